// FastAPI/pydantic's 422 shape for what domain validation found:
// {"detail":[{"loc":["body","items",0,"quantity"],"msg":"…","type":"…"}]}.
#pragma once
#include <boost/json/array.hpp>
#include <string>
#include <vector>

#include "domain/validation.hpp"

namespace os::api {

// One item of the "detail" list.
struct ErrorItem {
  boost::json::array loc;  // "body", "path" or "query", then the field
  std::string msg;
  std::string type;
};

// A violation in the request body: loc is "body" followed by its path.
ErrorItem body_error_item(const domain::Violation& violation);

std::string render_error_items(const std::vector<ErrorItem>& items);
std::string render_violations(const domain::Violations& violations);

}  // namespace os::api
