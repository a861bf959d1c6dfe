// Method + path-template routing ("/orders/{order_id}"); trailing slashes are optional.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/async.hpp"
#include "http/request.hpp"

namespace os::http {

// Turns a request into a response: a route's handler, and the whole middleware chain as
// the server sees it.
using Handler = std::function<awaitable<Response>(Request&)>;

struct RouteOptions {
  bool requires_auth = false;
  bool rate_limited = true;  // false for /health, /ready, /metrics, docs
  // Counted against HTTP_MAX_IN_FLIGHT and refused (503) beyond it; false for the probes.
  bool sheddable = true;
};

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
  RouteOptions options;
  std::vector<std::string> segments;
};

struct RouteMatch {
  const Route* route = nullptr;      // null when nothing matched
  std::vector<std::string> allowed;  // methods for the path when the method did not match
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});
  // Fills request.path_params and request.route on a match.
  RouteMatch match(Request& request) const;

 private:
  std::vector<Route> routes_;
};

// Strips one trailing slash (except for "/").
std::string normalize_path(std::string_view path);

}  // namespace os::http
