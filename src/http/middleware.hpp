// The middleware chain around every handler: request id and trace context, client
// address, CORS, routing, rate limit, authentication, error mapping, metrics and the
// access log. Handlers stay thin.
#pragma once
#include <optional>
#include <string>

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

class MiddlewareChain {
 public:
  MiddlewareChain(const Router& router, Authenticator& auth, const Cors& cors, RateLimit* limiter,
                  Metrics& metrics, const std::vector<std::string>& trusted_proxies);

  awaitable<Response> handle(Request& request);

 private:
  awaitable<Response> dispatch(Request& request);
  std::string client_ip(const Request& request) const;

  const Router& router_;
  Authenticator& auth_;
  const Cors& cors_;
  RateLimit* limiter_;
  Metrics& metrics_;
  domain::IpNetworks trusted_proxies_;
};

void describe_http_metrics(Metrics& metrics);

}  // namespace os::http
