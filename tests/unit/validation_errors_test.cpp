// The 422 body as FastAPI renders it, from what domain validation found.
#include "api/validation_errors.hpp"

#include <gtest/gtest.h>

#include "domain/validation.hpp"

using namespace os::domain;
using os::api::render_violations;

namespace {
std::string rendered(const Validated<CreateOrder>& v) {
  return render_violations(std::get<Violations>(v));
}
}  // namespace

TEST(ValidationErrors, ItemFieldsWithLocMsgAndType) {
  EXPECT_EQ(
      rendered(
          parse_create_order(R"({"items":[{"product_id":0,"quantity":10001,"price":1.234}]})")),
      R"({"detail":[)"
      R"({"loc":["body","items",0,"product_id"],"msg":"Input should be greater than 0","type":"greater_than"},)"
      R"({"loc":["body","items",0,"quantity"],"msg":"Input should be less than or equal to 10000","type":"less_than_equal"},)"
      R"({"loc":["body","items",0,"price"],"msg":"Decimal input should have no more than 2 decimal places","type":"decimal_max_places"}]})");
  EXPECT_EQ(
      rendered(
          parse_create_order(R"({"items":[{"product_id":"x","quantity":0,"price":1000000.01}]})")),
      R"({"detail":[)"
      R"({"loc":["body","items",0,"product_id"],"msg":"Input should be a valid integer","type":"int_type"},)"
      R"({"loc":["body","items",0,"quantity"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"},)"
      R"({"loc":["body","items",0,"price"],"msg":"Input should be less than or equal to 1000000","type":"less_than_equal"}]})");
  EXPECT_EQ(
      rendered(parse_create_order(R"({"items":[{"price":"1"}]})")),
      R"({"detail":[)"
      R"({"loc":["body","items",0,"product_id"],"msg":"Field required","type":"missing"},)"
      R"({"loc":["body","items",0,"quantity"],"msg":"Field required","type":"missing"},)"
      R"({"loc":["body","items",0,"price"],"msg":"Input should be a valid number","type":"float_type"}]})");
}

TEST(ValidationErrors, BodyAndListShapes) {
  EXPECT_EQ(
      rendered(parse_create_order("[]")),
      R"({"detail":[{"loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","type":"model_attributes_type"}]})");
  EXPECT_EQ(
      rendered(parse_create_order(R"({"items":[]})")),
      R"({"detail":[{"loc":["body","items"],"msg":"List should have at least 1 item after validation, not 0","type":"too_short"}]})");
  EXPECT_EQ(
      rendered(parse_create_order(R"({"items":{}})")),
      R"({"detail":[{"loc":["body","items"],"msg":"Input should be a valid list","type":"list_type"}]})");
  std::string many = R"({"items":[)";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "1";
  EXPECT_EQ(
      rendered(parse_create_order(many + "]}")),
      R"({"detail":[{"loc":["body","items"],"msg":"List should have at most 100 items after validation","type":"too_long"}]})");
  EXPECT_EQ(
      rendered(parse_create_order(R"({"items":[1]})")),
      R"({"detail":[{"loc":["body","items",0],"msg":"Input should be a valid dictionary or object to extract fields from","type":"model_attributes_type"}]})");
  const auto bad_json = rendered(parse_create_order("{not json"));
  EXPECT_EQ(bad_json.rfind(R"({"detail":[{"loc":["body"],"msg":"JSON decode error: )", 0), 0u)
      << bad_json;
  EXPECT_NE(bad_json.find(R"(","type":"json_invalid"}]})"), std::string::npos) << bad_json;
}

TEST(ValidationErrors, RegisterAndStatus) {
  EXPECT_EQ(
      render_violations(
          std::get<Violations>(parse_register(R"({"email":"nope","password":"short"})"))),
      R"({"detail":[)"
      R"({"loc":["body","email"],"msg":"value is not a valid email address","type":"value_error"},)"
      R"({"loc":["body","password"],"msg":"String should have at least 8 characters","type":"string_too_short"}]})");
  EXPECT_EQ(
      render_violations(std::get<Violations>(
          parse_register(R"({"email":1,"password":")" + std::string(129, 'x') + "\"}"))),
      R"({"detail":[)"
      R"({"loc":["body","email"],"msg":"Input should be a valid string","type":"string_type"},)"
      R"({"loc":["body","password"],"msg":"String should have at most 128 characters","type":"string_too_long"}]})");
  EXPECT_EQ(
      render_violations(std::get<Violations>(parse_status_update(R"({"status":"paid"})"))),
      R"({"detail":[{"loc":["body","status"],"msg":"Input should be 'PENDING', 'PAID', 'SHIPPED' or 'CANCELED'","type":"enum"}]})");
}

TEST(ValidationErrors, TokenForm) {
  const std::vector<std::pair<std::string, std::string>> nul{{"username", std::string("a\0b", 3)}};
  EXPECT_EQ(
      render_violations(std::get<Violations>(parse_token_fields(nul))),
      R"({"detail":[)"
      R"({"loc":["body","username"],"msg":"String should not contain NUL characters","type":"value_error"},)"
      R"({"loc":["body","password"],"msg":"Field required","type":"missing"}]})");
}
