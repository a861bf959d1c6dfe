#include "api/errors.hpp"

namespace os::api {

http::Response validation_error(const domain::ValidationErrors& errors) {
  return http::json_response(422, domain::render_validation_errors(errors));
}

http::Response body_not_json() {
  return validation_error(domain::single_error(
      {"body"},
      "Input should be a valid dictionary or object to extract fields from (send the body as "
      "JSON with Content-Type: application/json)",
      "model_attributes_type"));
}

http::Response invalid_parameter(std::string where, std::string name, std::string msg,
                                 std::string type) {
  return validation_error(domain::single_error(
      {boost::json::string(where), boost::json::string(name)}, std::move(msg), std::move(type)));
}

}  // namespace os::api
