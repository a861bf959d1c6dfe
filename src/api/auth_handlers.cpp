#include "api/auth_handlers.hpp"

#include <boost/json.hpp>

#include "api/errors.hpp"
#include "domain/clock.hpp"
#include "http/form.hpp"
#include "security/password.hpp"

namespace os::api {
namespace json = boost::json;
namespace {

// How long a refused login or registration is held before its 503 is sent. A client that
// retries at once (a login storm: 64 clients in a loop) would otherwise make thousands of
// requests a second whose refusals, cheap as they are, take the CPU from every other
// request; held, each costs a timer, and the storm's rate drops to clients / hold.
constexpr std::chrono::milliseconds kBusyHold{500};

// Every hashing thread is busy for about a second's worth of requests already (or the
// client left, and nobody reads the answer).
http::Response hashing_busy() {
  auto r =
      http::error_response(503, "Too many logins and registrations in progress; retry shortly");
  r.set_header("Retry-After", "1");
  r.hold = kBusyHold;
  return r;
}

// The hashing queue is full already: refused before the request costs a database query
// (run() still decides for those that pass).
bool hashing_full(const ApiContext& ctx) {
  return ctx.hashing.in_flight() >= ctx.hashing.capacity();
}

}  // namespace

awaitable<http::Response> register_user(ApiContext& ctx, http::Request& request) {
  if (!request.has_json_body()) co_return body_not_json();
  auto parsed = domain::parse_register(request.body);
  if (auto* errors = std::get_if<domain::Violations>(&parsed)) co_return validation_error(*errors);
  auto creds = std::get<domain::Credentials>(std::move(parsed));
  if (hashing_full(ctx)) co_return hashing_busy();

  // Cheap check first so a duplicate does not cost an Argon2 hash; the insert
  // below still settles races (ON CONFLICT DO NOTHING).
  if (co_await ctx.users.find_by_email(creds.email)) {
    co_return http::error_response(400, "email already registered");
  }
  // The job is a named local: GCC 12 miscopies lambda temporaries inside co_await.
  auto hash_job = [password = creds.password] { return security::hash_password(password); };
  const auto hash = co_await ctx.hashing.run(std::move(hash_job), request.client_connected);
  if (!hash) co_return hashing_busy();
  const auto user = co_await ctx.users.insert(creds.email, *hash);
  if (!user) co_return http::error_response(400, "email already registered");
  co_return http::json_response(
      201, json::serialize(json::object{
               {"id", user->id}, {"email", user->email}, {"created_at", user->created_at}}));
}

awaitable<http::Response> issue_token(ApiContext& ctx, http::Request& request) {
  // Like FastAPI's Form(): a body that is not a form has no fields (so: Field required).
  const auto fields = http::parse_form(request.has_form_body() ? request.body : "");
  auto parsed = domain::parse_token_fields(fields);
  if (auto* errors = std::get_if<domain::Violations>(&parsed)) co_return validation_error(*errors);
  auto creds = std::get<domain::Credentials>(std::move(parsed));
  if (hashing_full(ctx)) co_return hashing_busy();

  const auto user = co_await ctx.users.find_by_email(creds.email);
  // Unknown emails verify against a decoy hash: the answer takes as long either way. The
  // decoy is read (and, the first time, computed) on the hashing thread too.
  auto verify_job = [hash = user ? std::optional<std::string>(user->hashed_password) : std::nullopt,
                     password = creds.password] {
    return security::verify_password(hash ? *hash : security::decoy_hash(), password);
  };
  const auto valid = co_await ctx.hashing.run(std::move(verify_job), request.client_connected);
  if (!valid) co_return hashing_busy();
  if (!user || !*valid) {
    auto r = http::error_response(401, "Incorrect username or password");
    r.set_header("WWW-Authenticate", "Bearer");
    co_return r;
  }
  const auto now = domain::unix_seconds();
  co_return http::json_response(
      200, json::serialize(json::object{{"access_token", ctx.jwt.issue(user->id, now)},
                                        {"token_type", "bearer"},
                                        {"expires_in", ctx.jwt.lifetime().count()}}));
}

}  // namespace os::api
