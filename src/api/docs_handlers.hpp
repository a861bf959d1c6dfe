// GET /openapi.json (embedded document), GET /docs (Swagger UI) and its assets.
#pragma once
#include "api/context.hpp"
#include "http/request.hpp"

namespace os::api {
awaitable<http::Response> openapi_document(ApiContext& ctx, http::Request& request);
awaitable<http::Response> swagger_ui(ApiContext& ctx, http::Request& request);
awaitable<http::Response> swagger_asset(ApiContext& ctx, http::Request& request);
}  // namespace os::api
