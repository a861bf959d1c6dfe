#include "domain/form.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse_query.hpp>

namespace os::domain {

std::optional<FormFields> parse_form(std::string_view text) {
  auto parsed = boost::urls::parse_query(text);
  if (!parsed) return std::nullopt;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  FormFields out;
  for (const auto& p : *parsed) {
    out.emplace_back(p.key.decode(opts), p.has_value ? p.value.decode(opts) : std::string());
  }
  return out;
}

}  // namespace os::domain
