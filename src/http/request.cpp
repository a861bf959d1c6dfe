#include "http/request.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "domain/form.hpp"

namespace os::http {

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  const auto fields = domain::parse_form(query);
  if (!fields) return std::nullopt;
  for (const auto& [key, value] : *fields) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view{} : std::string_view(it->second);
}

void Response::set_header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response error_response(int status, std::string_view detail) {
  return json_response(status,
                       R"({"detail":)" + boost::json::serialize(boost::json::string(detail)) + "}");
}

}  // namespace os::http
