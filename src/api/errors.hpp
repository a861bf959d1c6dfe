// Error responses shared by the handlers.
#pragma once
#include "api/validation_errors.hpp"
#include "http/request.hpp"

namespace os::api {

// 422 with FastAPI's detail list.
http::Response validation_error(const domain::Violations& violations);
// 422 for a JSON endpoint whose request did not say its body is JSON (FastAPI's shape).
http::Response body_not_json();
http::Response invalid_parameter(std::string where, std::string name, std::string msg,
                                 std::string type);

}  // namespace os::api
