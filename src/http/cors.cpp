#include "http/cors.hpp"
#include "domain/text.hpp"

#include <algorithm>

namespace os::http {
namespace {
bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

Cors::Cors(config::CorsSettings settings) : settings_(std::move(settings)) {
  any_origin_ = contains(settings_.origins, "*");
  any_method_ = contains(settings_.methods, "*");
  any_header_ = contains(settings_.headers, "*");
  methods_ = any_method_ ? "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
                         : domain::join(settings_.methods, ", ");
  headers_ = domain::join(settings_.headers, ", ");
}

bool Cors::origin_allowed(std::string_view origin) const {
  return any_origin_ || contains(settings_.origins, origin);
}

bool Cors::method_allowed(std::string_view method) const {
  return any_method_ || contains(settings_.methods, method);
}

std::optional<Response> Cors::preflight(const Request& request) const {
  if (request.method != "OPTIONS") return std::nullopt;
  const auto origin = request.header("origin");
  const auto method = request.header("access-control-request-method");
  if (!origin || !method) return std::nullopt;
  if (!origin_allowed(*origin) || !method_allowed(*method)) {
    auto r = error_response(400, "Disallowed CORS request");
    r.set_header("Vary", "Origin");
    return r;
  }
  Response r;
  r.status = 200;
  r.content_type = "text/plain";
  r.body = "OK";
  const bool echo_origin = settings_.credentials || !any_origin_;
  r.set_header("Access-Control-Allow-Origin", echo_origin ? std::string(*origin) : "*");
  r.set_header("Access-Control-Allow-Methods", methods_);
  const auto requested = request.header("access-control-request-headers");
  if (any_header_ && requested) {
    r.set_header("Access-Control-Allow-Headers", std::string(*requested));
  } else if (!any_header_) {
    r.set_header("Access-Control-Allow-Headers", headers_);
  }
  if (settings_.credentials) r.set_header("Access-Control-Allow-Credentials", "true");
  r.set_header("Access-Control-Max-Age", "600");
  r.set_header("Vary", "Origin");
  return r;
}

void Cors::decorate(const Request& request, Response& response) const {
  const auto origin = request.header("origin");
  if (!origin || !origin_allowed(*origin)) return;
  for (const auto& [name, value] : response.headers) {
    if (name == "Access-Control-Allow-Origin") return;  // a preflight answer, complete
  }
  const bool echo_origin = settings_.credentials || !any_origin_;
  response.set_header("Access-Control-Allow-Origin", echo_origin ? std::string(*origin) : "*");
  if (settings_.credentials) response.set_header("Access-Control-Allow-Credentials", "true");
  if (echo_origin) response.set_header("Vary", "Origin");
  response.set_header("Access-Control-Expose-Headers",
                      "Location, Link, X-Request-ID, Retry-After, RateLimit-Limit, "
                      "RateLimit-Remaining, RateLimit-Reset, X-Cache");
}

}  // namespace os::http
