#include "http/request.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <cctype>

#include "http/form.hpp"

namespace os::http {

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

std::vector<std::string_view> Request::header_values(std::string_view lower_name) const {
  std::vector<std::string_view> values;
  for (const auto& [name, value] : headers) {
    if (name == lower_name) values.emplace_back(value);
  }
  return values;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::optional<std::string> found;  // the last of a repeated parameter, as Starlette does
  for (auto& [key, value] : parse_form(query, FormSyntax::Query)) {
    if (key == name) found = std::move(value);
  }
  return found;
}

namespace {
// "Application/JSON; charset=utf-8" -> "application/json"
std::string media_type(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  std::string out(value);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

bool Request::has_json_body() const {
  const auto value = header("content-type");
  if (!value) return true;
  const auto type = media_type(*value);
  if (type.rfind("application/", 0) != 0) return false;
  const std::string_view subtype = std::string_view(type).substr(12);
  return subtype == "json" || (subtype.size() > 5 && subtype.substr(subtype.size() - 5) == "+json");
}

bool Request::has_form_body() const {
  const auto value = header("content-type");
  return value && media_type(*value) == "application/x-www-form-urlencoded";
}

std::string_view Request::path_param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view{} : std::string_view(it->second);
}

void Response::set_header(std::string name, std::string value) {
  if (headers.capacity() == 0) headers.reserve(6);  // request id, traceparent, CORS, limits
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
