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
  const auto claims = jwt_.verify(header->substr(kScheme.size()), now);
  if (!claims) {
    failure = "Could not validate credentials";
    co_return std::nullopt;
  }
  if (!known_.contains(claims->user_id)) {
    // Read before the check: a deletion announced meanwhile keeps the user out of the cache.
    const auto generation = known_.generation();
    if (!co_await users_.exists(claims->user_id)) {
      failure = "Could not validate credentials";
      co_return std::nullopt;
    }
    known_.remember(claims->user_id, generation);
  }
  co_return claims->user_id;
}

}  // namespace os::api
