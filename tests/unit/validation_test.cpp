#include "domain/validation.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/validation_errors.hpp"
#include "http/form.hpp"

using namespace os::domain;

namespace {
Violations errors_of(const Validated<CreateOrder>& v) {
  return std::holds_alternative<Violations>(v) ? std::get<Violations>(v) : Violations{};
}
// As the response shows it (api/validation_errors).
std::string loc(const Violation& e) {
  return boost::json::serialize(os::api::body_error_item(e).loc);
}
Validated<Credentials> parse_token_form(std::string_view body) {
  return parse_token_fields(os::http::parse_form(body));
}
}  // namespace

TEST(Email, NormalizesAndValidates) {
  EXPECT_EQ(normalize_email("  John.Doe@Example.COM "), "john.doe@example.com");
  EXPECT_EQ(normalize_email("\n\tA@B.co\v\f\r "), "a@b.co");
  EXPECT_FALSE(normalize_email("no-at-sign.example.com"));
  EXPECT_FALSE(normalize_email("a@b"));
  EXPECT_FALSE(normalize_email("a@@b.com"));
  EXPECT_FALSE(normalize_email("a b@c.com"));
  EXPECT_FALSE(normalize_email(std::string(250, 'a') + "@x.com"));
  EXPECT_FALSE(normalize_email("a@-x.com"));
}

TEST(Register, RejectsShortAndLongPasswords) {
  auto r = parse_register(R"({"email":"a@b.co","password":"short"})");
  ASSERT_TRUE(std::holds_alternative<Violations>(r));
  EXPECT_EQ(loc(std::get<Violations>(r)[0]), R"(["body","password"])");
  r = parse_register(R"({"email":"a@b.co","password":")" + std::string(129, 'x') + "\"}");
  EXPECT_TRUE(std::holds_alternative<Violations>(r));
  r = parse_register(R"({"email":"A@B.co","password":"12345678"})");
  ASSERT_TRUE(std::holds_alternative<Credentials>(r));
  EXPECT_EQ(std::get<Credentials>(r).email, "a@b.co");
}

TEST(CreateOrderValidation, AcceptsAValidOrderAndIgnoresUnknownFields) {
  auto r = parse_create_order(
      R"({"items":[{"product_id":1,"quantity":3,"price":0.1,"note":"x"}],"extra":1})");
  ASSERT_TRUE(std::holds_alternative<CreateOrder>(r));
  EXPECT_EQ(std::get<CreateOrder>(r).items[0].price_cents, 10);
}

TEST(CreateOrderValidation, ReportsEachBadFieldWithItsLocation) {
  auto errors = errors_of(
      parse_create_order(R"({"items":[{"product_id":0,"quantity":10001,"price":1.234}]})"));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(loc(errors[0]), R"(["body","items",0,"product_id"])");
  EXPECT_EQ(loc(errors[1]), R"(["body","items",0,"quantity"])");
  EXPECT_EQ(loc(errors[2]), R"(["body","items",0,"price"])");
}

TEST(CreateOrderValidation, RejectsBadShapes) {
  EXPECT_EQ(loc(errors_of(parse_create_order("{not json"))[0]), R"(["body"])");
  EXPECT_EQ(loc(errors_of(parse_create_order("[]"))[0]), R"(["body"])");
  EXPECT_EQ(loc(errors_of(parse_create_order(R"({})"))[0]), R"(["body","items"])");
  EXPECT_EQ(loc(errors_of(parse_create_order(R"({"items":[]})"))[0]), R"(["body","items"])");
  EXPECT_EQ(loc(errors_of(parse_create_order(R"({"items":{}})"))[0]), R"(["body","items"])");
  EXPECT_FALSE(
      errors_of(parse_create_order(R"({"items":[{"product_id":1,"quantity":"2","price":1}]})"))
          .empty());
  EXPECT_FALSE(errors_of(parse_create_order(
                             R"({"items":[{"product_id":1,"quantity":1,"price":1000000.01}]})"))
                   .empty());
  EXPECT_FALSE(
      errors_of(parse_create_order(R"({"items":[{"product_id":1,"quantity":1,"price":-1}]})"))
          .empty());
  std::string deep(100, '[');
  EXPECT_EQ(loc(errors_of(parse_create_order(deep))[0]), R"(["body"])");
}

TEST(CreateOrderValidation, LimitsItemCount) {
  std::string body = R"({"items":[)";
  for (int i = 0; i < 101; ++i)
    body += std::string(i ? "," : "") + R"({"product_id":1,"quantity":1,"price":1})";
  body += "]}";
  EXPECT_EQ(errors_of(parse_create_order(body)).size(), 1u);
}

TEST(StatusUpdate, AcceptsOnlyKnownStatuses) {
  EXPECT_TRUE(std::holds_alternative<OrderStatus>(parse_status_update(R"({"status":"PAID"})")));
  EXPECT_TRUE(std::holds_alternative<Violations>(parse_status_update(R"({"status":"paid"})")));
  EXPECT_TRUE(std::holds_alternative<Violations>(parse_status_update(R"({})")));
}

TEST(TokenForm, ReadsUrlEncodedFields) {
  auto r = parse_token_form("grant_type=password&username=A%40b.co&password=p%26ss+word&scope=");
  ASSERT_TRUE(std::holds_alternative<Credentials>(r));
  EXPECT_EQ(std::get<Credentials>(r).email, "a@b.co");
  EXPECT_EQ(std::get<Credentials>(r).password, "p&ss word");
  EXPECT_TRUE(std::holds_alternative<Violations>(parse_token_form("username=a%40b.co")));
}
