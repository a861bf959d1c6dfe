// /health, /ready and /metrics.
#pragma once
#include "api/context.hpp"
#include "http/request.hpp"

namespace os::api {
awaitable<http::Response> health(ApiContext& ctx, http::Request& request);
// 200 ready|degraded with per-dependency checks; 503 when PostgreSQL is unreachable.
awaitable<http::Response> ready(ApiContext& ctx, http::Request& request);
awaitable<http::Response> metrics(ApiContext& ctx, http::Request& request);
}  // namespace os::api
