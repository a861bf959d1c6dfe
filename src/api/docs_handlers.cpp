#include "api/docs_handlers.hpp"

#include <boost/json.hpp>

#include "core/embedded.hpp"

namespace os::api {
namespace {

constexpr std::string_view kSwaggerPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>order-service - Swagger UI</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    });
  </script>
</body>
</html>
)html";

}  // namespace

namespace {
// The embedded document, verbatim but for info.title, which is APP_NAME (one per process:
// settings are). info.title is the document's first "title".
std::string openapi_with_title(const std::string& title) {
  std::string doc(embedded_api_docs().front().content);
  constexpr std::string_view kTitle = R"("title": "order-service")";
  if (const auto at = doc.find(kTitle); at != std::string::npos) {
    doc.replace(at, kTitle.size(),
                R"("title": )" + boost::json::serialize(boost::json::string(title)));
  }
  return doc;
}
}  // namespace

awaitable<http::Response> openapi_document(ApiContext& ctx, http::Request&) {
  static const std::string document = openapi_with_title(ctx.settings.app_name);
  co_return http::json_response(200, document);
}

awaitable<http::Response> swagger_ui(ApiContext& ctx, http::Request&) {
  if (!ctx.swagger_assets.get("swagger-ui-bundle.js")) {
    co_return http::error_response(503, "Swagger UI assets not found in " +
                                            ctx.swagger_assets.folder() +
                                            " (run scripts/setup, or set SWAGGER_UI_DIR)");
  }
  http::Response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = kSwaggerPage;
  co_return r;
}

awaitable<http::Response> swagger_asset(ApiContext& ctx, http::Request& request) {
  const auto file = ctx.swagger_assets.get(std::string(request.path_param("file")));
  if (!file) co_return http::error_response(404, "Not Found");
  http::Response r;
  r.content_type = file->content_type;
  r.body = file->content;
  r.set_header("Cache-Control", "public, max-age=3600");
  co_return r;
}

}  // namespace os::api
