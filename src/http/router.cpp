#include "http/router.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>

namespace os::http {
namespace {
// Segments of a path, as views into it (no allocation for up to 8 segments).
using Segments = boost::container::small_vector<std::string_view, 8>;
Segments split(std::string_view path) {
  Segments out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (path == "/") out.clear();
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

std::string normalize_path(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return std::string(path.empty() ? "/" : path);
}

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  routes_.push_back({std::move(method), std::move(pattern), std::move(handler), options, {}});
  for (const auto segment : split(routes_.back().pattern)) {
    routes_.back().segments.emplace_back(segment);
  }
}

RouteMatch Router::match(Request& request) const {
  const auto segments = split(request.path);
  RouteMatch result;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      ok = is_param(route.segments[i]) ? !segments[i].empty() : route.segments[i] == segments[i];
    }
    if (!ok) continue;
    if (route.method != request.method && !(request.method == "HEAD" && route.method == "GET")) {
      if (std::find(result.allowed.begin(), result.allowed.end(), route.method) ==
          result.allowed.end()) {
        result.allowed.push_back(route.method);
      }
      continue;
    }
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (is_param(route.segments[i])) {
        request.path_params[route.segments[i].substr(1, route.segments[i].size() - 2)] =
            segments[i];
      }
    }
    request.route = route.pattern;
    result.route = &route;
    result.allowed.clear();
    return result;
  }
  return result;
}

}  // namespace os::http
