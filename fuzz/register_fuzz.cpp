// POST /register/ body: domain::parse_register (JSON, email normalisation, password rules).
#include <boost/json.hpp>
#include <variant>

#include "api/validation_errors.hpp"
#include "domain/validation.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = fuzz::as_text(data, size);
  auto parsed = parse_register(body);
  if (auto* errors = std::get_if<Violations>(&parsed)) {
    FUZZ_CHECK(!errors->empty(), fuzz::printable(body));
    boost::system::error_code ec;
    boost::json::parse(os::api::render_violations(*errors), ec);
    FUZZ_CHECK(!ec, fuzz::printable(body));
    return 0;
  }
  const auto& creds = std::get<Credentials>(parsed);
  FUZZ_CHECK(!creds.email.empty() && creds.email.size() <= kMaxEmailLength, creds.email);
  FUZZ_CHECK(normalize_email(creds.email) == creds.email, fuzz::printable(creds.email));
  FUZZ_CHECK(
      creds.email.find('@') != std::string::npos && creds.email.find('@') == creds.email.rfind('@'),
      fuzz::printable(creds.email));
  for (unsigned char c : creds.email) {
    FUZZ_CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'), fuzz::printable(creds.email));
  }
  FUZZ_CHECK(
      creds.password.size() >= kMinPasswordLength && creds.password.size() <= kMaxPasswordLength,
      fuzz::printable(creds.password));
  // The password is hashed with its length (NUL is fine), never stored or logged; the
  // JSON parser already guarantees UTF-8.
  FUZZ_CHECK(fuzz::valid_utf8(creds.password), "password " + fuzz::printable(creds.password));
  return 0;
}
