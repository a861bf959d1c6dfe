#include "http/router.hpp"

#include <algorithm>

namespace os::http {
namespace {
std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
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
  auto segments = split(pattern);
  routes_.push_back(
      {std::move(method), std::move(pattern), std::move(handler), options, std::move(segments)});
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
