#include "api/errors.hpp"

namespace os::api {
namespace {

http::Response single_error(ErrorItem item) {
  const std::vector<ErrorItem> items{std::move(item)};
  return http::json_response(422, render_error_items(items));
}

}  // namespace

http::Response validation_error(const domain::Violations& violations) {
  return http::json_response(422, render_violations(violations));
}

http::Response body_not_json() {
  return single_error(
      {{"body"},
       "Input should be a valid dictionary or object to extract fields from (send the body as "
       "JSON with Content-Type: application/json)",
       "model_attributes_type"});
}

http::Response invalid_parameter(std::string where, std::string name, std::string msg,
                                 std::string type) {
  return single_error(
      {{boost::json::string(where), boost::json::string(name)}, std::move(msg), std::move(type)});
}

}  // namespace os::api
