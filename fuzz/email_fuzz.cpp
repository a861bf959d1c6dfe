// domain::normalize_email on arbitrary text (register body, /token/ username).
#include <algorithm>
#include <string>

#include "domain/validation.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto raw = fuzz::as_text(data, size);
  const auto email = normalize_email(raw);
  std::string upper(raw);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  });
  // Case-insensitive: the upper-cased input normalises to the same address (or neither does).
  FUZZ_CHECK(normalize_email(upper) == email, fuzz::printable(raw));
  if (!email) return 0;
  FUZZ_CHECK(!email->empty() && email->size() <= kMaxEmailLength, fuzz::printable(*email));
  FUZZ_CHECK(normalize_email(*email) == email, fuzz::printable(*email));  // idempotent
  const auto at = email->find('@');
  FUZZ_CHECK(at != std::string::npos && at > 0 && at == email->rfind('@'), fuzz::printable(*email));
  FUZZ_CHECK(email->find('.', at) != std::string::npos, fuzz::printable(*email));
  for (unsigned char c : *email) {
    FUZZ_CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'), fuzz::printable(*email));
  }
  return 0;
}
