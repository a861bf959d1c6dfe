#include "api/routes.hpp"

#include "api/auth_handlers.hpp"
#include "api/docs_handlers.hpp"
#include "api/order_handlers.hpp"
#include "api/system_handlers.hpp"

namespace os::api {

const std::vector<RouteSpec>& route_table() {
  constexpr http::RouteOptions open{.requires_auth = false, .rate_limited = true};
  constexpr http::RouteOptions authed{.requires_auth = true, .rate_limited = true};
  constexpr http::RouteOptions exempt{
      .requires_auth = false, .rate_limited = false, .sheddable = false};
  static const std::vector<RouteSpec> table = {
      {"GET", "/health", health, exempt},
      {"GET", "/ready", ready, exempt},
      {"GET", "/metrics", metrics, exempt},
      {"GET", "/openapi.json", openapi_document, exempt},
      {"GET", "/docs", swagger_ui, exempt},
      {"GET", "/docs/{file}", swagger_asset, exempt},
      {"POST", "/register", register_user, open},
      {"POST", "/token", issue_token, open},
      {"POST", "/orders", create_order, authed},
      {"GET", "/orders/user/{user_id}", list_user_orders, authed},
      {"GET", "/orders/{order_id}", get_order, authed},
      {"PATCH", "/orders/{order_id}", update_order_status, authed},
  };
  return table;
}

void add_routes(http::Router& router, ApiContext& ctx) {
  for (const auto& spec : route_table()) {
    // METRICS_ON_API_PORT=false: /metrics only on METRICS_PORT (main.cpp starts it), not here.
    if (spec.pattern == "/metrics" && !ctx.settings.metrics_on_api_port) continue;
    router.add(
        spec.method, spec.pattern,
        [&ctx, fn = spec.handler](http::Request& request) { return fn(ctx, request); },
        spec.options);
  }
}

}  // namespace os::api
