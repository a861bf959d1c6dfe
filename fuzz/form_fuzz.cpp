// The form / query-string decoder, http::parse_form and decode_form_component, as used
// for /token/ bodies (FormSyntax::Form) and every query string (FormSyntax::Query: limit,
// cursor). The header promises: decoding never fails and the result is valid UTF-8.
// First input byte picks the syntax; the rest is the text.
#include <string>

#include "fuzz_common.hpp"
#include "http/form.hpp"

using namespace os::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto syntax = data[0] & 1 ? FormSyntax::Query : FormSyntax::Form;
  const auto text = fuzz::as_text(data + 1, size - 1);
  const auto fields = parse_form(text, syntax);
  std::size_t separators = 0;
  for (char c : text) separators += c == '&' || (syntax == FormSyntax::Form && c == ';');
  FUZZ_CHECK(fields.size() <= separators + 1, fuzz::printable(text));
  const bool plain = text.find_first_of("%+") == std::string_view::npos;
  for (const auto& [key, value] : fields) {
    FUZZ_CHECK(!key.empty() || !value.empty() || text.find("=") != std::string_view::npos,
               fuzz::printable(text));
    FUZZ_CHECK(fuzz::valid_utf8(key) && fuzz::valid_utf8(value),
               "not UTF-8: " + fuzz::printable(key) + " = " + fuzz::printable(value));
    // Each input byte becomes at most 2 output bytes (Latin-1), each %XX at most 3.
    FUZZ_CHECK(key.size() + value.size() <= 2 * text.size(), fuzz::printable(text));
    if (plain) {
      bool ascii = true;
      for (unsigned char c : text) ascii = ascii && c < 0x80;
      if (ascii) {
        FUZZ_CHECK(text.find(key) != std::string_view::npos, fuzz::printable(text));
        FUZZ_CHECK(text.find(value) != std::string_view::npos, fuzz::printable(text));
      }
    }
  }
  const auto component = decode_form_component(text);
  FUZZ_CHECK(fuzz::valid_utf8(component), fuzz::printable(component));
  return 0;
}
