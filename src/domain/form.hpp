// application/x-www-form-urlencoded and query strings, decoded ('+' is a space).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace os::domain {
using FormFields = std::vector<std::pair<std::string, std::string>>;
// nullopt when the text is not valid percent-encoding.
std::optional<FormFields> parse_form(std::string_view text);
}  // namespace os::domain
