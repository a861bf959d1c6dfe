#include "api/routes.hpp"

#include "api/auth_handlers.hpp"
#include "api/order_handlers.hpp"
#include "api/system_handlers.hpp"

namespace os::api {

void add_routes(http::Router& router, ApiContext& ctx) {
  using Fn = awaitable<http::Response> (*)(ApiContext&, http::Request&);
  const auto bind = [&ctx](Fn fn) {
    return [&ctx, fn](http::Request& request) { return fn(ctx, request); };
  };
  const http::RouteOptions open{.requires_auth = false, .rate_limited = true};
  const http::RouteOptions authed{.requires_auth = true, .rate_limited = true};
  const http::RouteOptions exempt{.requires_auth = false, .rate_limited = false};

  router.add("GET", "/health", bind(health), exempt);
  router.add("GET", "/ready", bind(ready), exempt);
  router.add("GET", "/metrics", bind(metrics), exempt);
  router.add("POST", "/register", bind(register_user), open);
  router.add("POST", "/token", bind(issue_token), open);
  router.add("POST", "/orders", bind(create_order), authed);
  router.add("GET", "/orders/user/{user_id}", bind(list_user_orders), authed);
  router.add("GET", "/orders/{order_id}", bind(get_order), authed);
  router.add("PATCH", "/orders/{order_id}", bind(update_order_status), authed);
}

}  // namespace os::api
