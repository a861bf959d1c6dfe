// /orders/ endpoints: create, read (cache first), update status, list by user.
#pragma once
#include "api/context.hpp"
#include "http/request.hpp"

namespace os::api {
awaitable<http::Response> create_order(ApiContext& ctx, http::Request& request);
awaitable<http::Response> get_order(ApiContext& ctx, http::Request& request);
awaitable<http::Response> update_order_status(ApiContext& ctx, http::Request& request);
awaitable<http::Response> list_user_orders(ApiContext& ctx, http::Request& request);
}  // namespace os::api
