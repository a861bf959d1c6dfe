// The middleware chain around every handler: request id and trace context, client
// address, CORS, routing, rate limit, authentication, error mapping, metrics and the
// access log. Handlers stay thin.
#pragma once
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "core/metrics.hpp"
#include "domain/ip_networks.hpp"
#include "http/cors.hpp"
#include "http/rate_limit.hpp"
#include "http/router.hpp"

namespace os::http {

// Resolves the Bearer token of a request to a user id; implemented by the api layer.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // nullopt: 401 with WWW-Authenticate: Bearer and `failure` as the detail.
  virtual awaitable<std::optional<std::int64_t>> authenticate(const Request& request,
                                                              std::string& failure) = 0;
};

// One per io thread (not thread-safe).
class MiddlewareChain {
 public:
  // At most `max_in_flight` requests of sheddable routes are handled at once; more are
  // answered 503 + Retry-After at once (overload shedding), as are the Overloaded
  // refusals of the handlers' bounded queues.
  MiddlewareChain(const Router& router, Authenticator& auth, const Cors& cors, RateLimit* limiter,
                  Metrics& metrics, const std::vector<std::string>& trusted_proxies,
                  int max_in_flight = std::numeric_limits<int>::max());

  awaitable<Response> handle(Request& request);

 private:
  awaitable<Response> dispatch(Request& request);
  std::string client_ip(const Request& request) const;
  // The metrics labels of a request, built once per (method, route, status): every part
  // comes from a closed set (method_label, the router's templates, our status codes).
  const std::string& request_labels(const Request& request, int status);

  const Router& router_;
  Authenticator& auth_;
  const Cors& cors_;
  RateLimit* limiter_;
  Metrics& metrics_;
  domain::IpNetworks trusted_proxies_;
  int max_in_flight_;
  int in_flight_ = 0;
  std::map<std::tuple<std::string_view, std::string_view, int>, std::string> labels_;
};

void describe_http_metrics(Metrics& metrics);

}  // namespace os::http
