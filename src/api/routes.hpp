// The api's route table: the one place that maps paths to handlers.
#pragma once
#include <vector>

#include "api/context.hpp"
#include "http/router.hpp"

namespace os::api {

// An api handler: an http::Handler that is also given its io thread's services.
using Handler = awaitable<http::Response> (*)(ApiContext&, http::Request&);

struct RouteSpec {
  const char* method;
  const char* pattern;
  Handler handler;
  http::RouteOptions options;
};

const std::vector<RouteSpec>& route_table();
void add_routes(http::Router& router, ApiContext& ctx);

}  // namespace os::api
