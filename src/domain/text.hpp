// Small text helpers, one place for each: trimming, joining, hex, base64url.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace os::domain {

// `s` without leading and trailing characters from `chars` (spaces, tabs, CRs).
std::string trim(std::string_view s, std::string_view chars = " \t\r");

// The items with `separator` between them ("a, b").
std::string join(const std::vector<std::string>& items, std::string_view separator);

// The value of one hex digit (either case), or nullopt.
std::optional<unsigned char> hex_value(char c);

// Two lower-case hex digits per byte, appended to `out`.
void append_hex(std::string& out, const unsigned char* data, std::size_t size);
std::string to_hex(const unsigned char* data, std::size_t size);

// Base64url without padding (JWT parts, page cursors); decoding accepts trailing '='.
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace os::domain
