// CORS as Starlette's CORSMiddleware does it: preflights answered here, simple
// responses decorated; a disallowed origin never gets Access-Control-Allow-Origin.
#pragma once
#include <optional>

#include "config/settings.hpp"
#include "http/request.hpp"

namespace os::http {

class Cors {
 public:
  explicit Cors(config::CorsSettings settings);

  // The full response to a preflight request; nullopt when `request` is not one.
  std::optional<Response> preflight(const Request& request) const;
  void decorate(const Request& request, Response& response) const;

 private:
  bool origin_allowed(std::string_view origin) const;
  bool method_allowed(std::string_view method) const;

  config::CorsSettings settings_;
  bool any_origin_ = false;
  bool any_method_ = false;
  bool any_header_ = false;
  std::string methods_;  // joined for Access-Control-Allow-Methods
  std::string headers_;
};

}  // namespace os::http
