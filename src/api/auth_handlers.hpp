// POST /register/ and POST /token/ (OAuth2 password flow).
#pragma once
#include "api/context.hpp"
#include "http/request.hpp"

namespace os::api {
awaitable<http::Response> register_user(ApiContext& ctx, http::Request& request);
awaitable<http::Response> issue_token(ApiContext& ctx, http::Request& request);
}  // namespace os::api
