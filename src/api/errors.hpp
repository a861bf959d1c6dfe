// Error responses shared by the handlers.
#pragma once
#include "domain/validation.hpp"
#include "http/request.hpp"

namespace os::api {

http::Response validation_error(const domain::ValidationErrors& errors);
http::Response invalid_parameter(std::string where, std::string name, std::string msg,
                                 std::string type);

}  // namespace os::api
