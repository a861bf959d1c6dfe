#include "api/authenticator.hpp"

#include "domain/clock.hpp"

#include <boost/beast/core/string.hpp>

namespace os::api {

awaitable<std::optional<std::int64_t>> JwtAuthenticator::authenticate(const http::Request& request,
                                                                      std::string& failure) {
  const auto header = request.header("authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (!header || header->size() <= kScheme.size() ||
      !boost::beast::iequals(header->substr(0, kScheme.size()), kScheme)) {
    failure = "Not authenticated";
    co_return std::nullopt;
  }
  const auto now = domain::unix_seconds();
  const auto* claims = tokens_.verify(header->substr(kScheme.size()), now);
  if (claims == nullptr) {
    failure = "Could not validate credentials";
    co_return std::nullopt;
  }
  const auto user_id = claims->user_id;  // claims live until the next verify
  if (!known_.contains(user_id)) {
    // Read before the check: a deletion announced meanwhile keeps the user out of the cache.
    const auto generation = known_.generation();
    if (!co_await users_.exists(user_id)) {
      failure = "Could not validate credentials";
      co_return std::nullopt;
    }
    known_.remember(user_id, generation);
  }
  co_return user_id;
}

}  // namespace os::api
