// POST /token/ body (OAuth2 password form): http::parse_form, then domain::parse_token_fields.
#include <boost/json.hpp>
#include <variant>

#include "api/validation_errors.hpp"
#include "domain/validation.hpp"
#include "fuzz_common.hpp"
#include "http/form.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = fuzz::as_text(data, size);
  auto parsed = parse_token_fields(os::http::parse_form(body));
  if (auto* errors = std::get_if<Violations>(&parsed)) {
    FUZZ_CHECK(!errors->empty(), fuzz::printable(body));
    boost::system::error_code ec;
    boost::json::parse(os::api::render_violations(*errors), ec);
    FUZZ_CHECK(!ec, fuzz::printable(body));
    return 0;
  }
  const auto& creds = std::get<Credentials>(parsed);
  FUZZ_CHECK(!creds.email.empty() && !creds.password.empty(), fuzz::printable(body));
  // The password is only hashed (with its length), but it is text: valid UTF-8.
  FUZZ_CHECK(fuzz::valid_utf8(creds.password), "password " + fuzz::printable(creds.password));
  if (fuzz::strict()) {
    // The username is looked up in PostgreSQL (and logged): issue 8 item 3 says it is
    // valid UTF-8 (no NUL, which libpq would cut the parameter at) or a 422.
    FUZZ_CHECK(fuzz::db_safe_text(creds.email),
               "username " + fuzz::printable(creds.email) + " from " + fuzz::printable(body));
  }
  return 0;
}
