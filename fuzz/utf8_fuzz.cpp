// domain/utf8.hpp, the gate for text that reaches PostgreSQL, Redis or a log line:
// is_valid_utf8 is compared with an independent validator, utf8_with_replacement must
// always give valid UTF-8 (and the input itself when it was valid), is_visible_ascii
// must mean printable ASCII, spaces and tabs only (RFC 9110 field values).
#include <string>

#include "domain/utf8.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  const bool valid = fuzz::valid_utf8(text);
  FUZZ_CHECK(is_valid_utf8(text) == valid, fuzz::printable(text));
  const auto replaced = utf8_with_replacement(text);
  FUZZ_CHECK(fuzz::valid_utf8(replaced), fuzz::printable(replaced));
  if (valid) FUZZ_CHECK(replaced == text, fuzz::printable(text));
  // Each ill-formed byte becomes at most one U+FFFD (3 bytes).
  FUZZ_CHECK(replaced.size() <= 3 * text.size(), fuzz::printable(text));
  bool visible = true;
  for (unsigned char c : text) visible = visible && (c == '\t' || (c >= 0x20 && c < 0x7f));
  FUZZ_CHECK(is_visible_ascii(text) == visible, fuzz::printable(text));
  return 0;
}
