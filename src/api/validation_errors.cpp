#include "api/validation_errors.hpp"

#include <boost/json.hpp>

namespace os::api {
namespace json = boost::json;
namespace {

using domain::Problem;

std::string limit_text(const domain::Violation& v) {
  return std::to_string(v.limit);
}

// pydantic's message and error type for each problem.
std::pair<std::string, std::string> message_and_type(const domain::Violation& v) {
  switch (v.problem) {
    case Problem::InvalidJson:
      return {"JSON decode error: " + v.detail, "json_invalid"};
    case Problem::NotAnObject:
      return {"Input should be a valid dictionary or object to extract fields from",
              "model_attributes_type"};
    case Problem::Missing:
      return {"Field required", "missing"};
    case Problem::NotAString:
      return {"Input should be a valid string", "string_type"};
    case Problem::TooShort:
      return {"String should have at least " + limit_text(v) + " characters", "string_too_short"};
    case Problem::TooLong:
      return {"String should have at most " + limit_text(v) + " characters", "string_too_long"};
    case Problem::NotAnEmail:
      return {"value is not a valid email address", "value_error"};
    case Problem::ContainsNul:
      return {"String should not contain NUL characters", "value_error"};
    case Problem::NotAList:
      return {"Input should be a valid list", "list_type"};
    case Problem::EmptyList:
      return {"List should have at least 1 item after validation, not 0", "too_short"};
    case Problem::TooManyItems:
      return {"List should have at most " + limit_text(v) + " items after validation", "too_long"};
    case Problem::NotAnInteger:
      return {"Input should be a valid integer", "int_type"};
    case Problem::NotANumber:
      return {"Input should be a valid number", "float_type"};
    case Problem::NotAboveLimit:
      return {"Input should be greater than " + limit_text(v), "greater_than"};
    case Problem::BelowLimit:
      return {"Input should be greater than or equal to " + limit_text(v), "greater_than_equal"};
    case Problem::AboveLimit:
      return {"Input should be less than or equal to " + limit_text(v), "less_than_equal"};
    case Problem::TooManyDecimals:
      return {"Decimal input should have no more than " + limit_text(v) + " decimal places",
              "decimal_max_places"};
    case Problem::UnknownStatus:
      return {"Input should be 'PENDING', 'PAID', 'SHIPPED' or 'CANCELED'", "enum"};
  }
  return {"Invalid input", "value_error"};
}

}  // namespace

ErrorItem body_error_item(const domain::Violation& violation) {
  ErrorItem item;
  item.loc.push_back("body");
  for (const auto& part : violation.path) {
    std::visit([&](const auto& p) { item.loc.push_back(json::value(p)); }, part);
  }
  std::tie(item.msg, item.type) = message_and_type(violation);
  return item;
}

std::string render_error_items(const std::vector<ErrorItem>& items) {
  json::array detail;
  for (const auto& e : items) {
    detail.push_back(json::object{{"loc", e.loc}, {"msg", e.msg}, {"type", e.type}});
  }
  return json::serialize(json::object{{"detail", std::move(detail)}});
}

std::string render_violations(const domain::Violations& violations) {
  std::vector<ErrorItem> items;
  items.reserve(violations.size());
  for (const auto& v : violations) items.push_back(body_error_item(v));
  return render_error_items(items);
}

}  // namespace os::api
