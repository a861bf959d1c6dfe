// The {order_id} path parameter: domain::is_uuid (the handler then lower-cases it).
#include <string>

#include "domain/uuid.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  static const std::string generated = uuid_v7();
  FUZZ_CHECK(is_uuid(generated), generated);
  if (!is_uuid(text)) return 0;
  FUZZ_CHECK(text.size() == 36, fuzz::printable(text));
  std::string lower(text);
  for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  FUZZ_CHECK(is_uuid(lower), fuzz::printable(text));
  for (std::size_t i = 0; i < lower.size(); ++i) {
    const char c = lower[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    FUZZ_CHECK(dash ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')),
               fuzz::printable(text));
  }
  return 0;
}
