// Money judged exactly from the JSON number's text (issue 8, item 3).
#include <gtest/gtest.h>

#include <variant>

#include "domain/money.hpp"
#include "domain/validation.hpp"

using namespace os::domain;

namespace {
MoneyProblem problem(const char* text) {
  return cents_from_json_number(text, kMaxPriceCents).problem;
}
std::int64_t cents(const char* text) {
  const auto r = cents_from_json_number(text, kMaxPriceCents);
  EXPECT_EQ(r.problem, MoneyProblem::None) << text;
  return r.cents;
}
}  // namespace

TEST(MoneyExact, AcceptsTwoDecimalsInEveryNotation) {
  EXPECT_EQ(cents("0.10"), 10);
  EXPECT_EQ(cents("19.99"), 1999);
  EXPECT_EQ(cents("7"), 700);
  EXPECT_EQ(cents("1.100"), 110);  // trailing zeros are not decimal places
  EXPECT_EQ(cents("2E3"), 200000);
  EXPECT_EQ(cents("1234e-2"), 1234);
  EXPECT_EQ(cents("0.01"), 1);
  EXPECT_EQ(cents("1000000"), 100000000);
  EXPECT_EQ(cents("1000000.00"), 100000000);
  EXPECT_EQ(cents("1e6"), 100000000);
}

TEST(MoneyExact, RefusesWhatADoubleWouldHide) {
  EXPECT_EQ(problem("1000.001"), MoneyProblem::TooManyDecimals);
  EXPECT_EQ(problem("1e-9"), MoneyProblem::TooManyDecimals);
  EXPECT_EQ(problem("0.001"), MoneyProblem::TooManyDecimals);
  EXPECT_EQ(problem("1000.0000000000000001"), MoneyProblem::TooManyDecimals);
  EXPECT_EQ(problem("1000000.004"), MoneyProblem::TooManyDecimals);
  EXPECT_EQ(problem("1000000.01"), MoneyProblem::TooLarge);
  EXPECT_EQ(problem("1e400"), MoneyProblem::TooLarge);
  EXPECT_EQ(problem("1e-400"), MoneyProblem::TooManyDecimals);
  EXPECT_EQ(problem("99999999999999999999999"), MoneyProblem::TooLarge);
  EXPECT_EQ(problem("1e999999999999999999999"), MoneyProblem::TooLarge);
}

TEST(MoneyExact, ZeroAndNegativeAreNotPositive) {
  EXPECT_EQ(problem("0"), MoneyProblem::NotPositive);
  EXPECT_EQ(problem("-0"), MoneyProblem::NotPositive);
  EXPECT_EQ(problem("0.00"), MoneyProblem::NotPositive);
  EXPECT_EQ(problem("0e10"), MoneyProblem::NotPositive);
  EXPECT_EQ(problem("-1"), MoneyProblem::NotPositive);
  EXPECT_EQ(problem("-1e-9"), MoneyProblem::NotPositive);
}

TEST(MoneyExact, MalformedTextIsNotANumber) {
  for (const char* t : {"", "-", "1.", ".5", "1e", "1e+", "01x", "NaN", "Infinity", "1 "}) {
    EXPECT_EQ(problem(t), MoneyProblem::NotANumber) << '"' << t << '"';
  }
}

TEST(MoneyExact, LargestLegalOrderTotalsExactly) {
  std::string body = R"({"items":[)";
  for (int i = 0; i < 100; ++i) {
    body += (i ? "," : "") + std::string(R"({"product_id":1,"quantity":10000,"price":1000000})");
  }
  body += "]}";
  const auto parsed = parse_create_order(body);
  ASSERT_TRUE(std::holds_alternative<CreateOrder>(parsed));
  EXPECT_EQ(compute_total_cents(std::get<CreateOrder>(parsed).items),
            100LL * 10000 * 100000000);  // 1e11 currency units, in cents
}

TEST(MoneyExact, PriceErrorsCarryTheFieldLoc) {
  for (const char* price : {"1e-9", "1000.001", "1000000.004", "-0", "1e400", "0"}) {
    const auto parsed = parse_create_order(
        std::string(R"({"items":[{"product_id":1,"quantity":1,"price":)") + price + "}]}");
    ASSERT_TRUE(std::holds_alternative<Violations>(parsed)) << price;
    const auto& errors = std::get<Violations>(parsed);
    ASSERT_EQ(errors.size(), 1u) << price;
    EXPECT_EQ(errors[0].path, (FieldPath{"items", 0, "price"})) << price;
  }
}

TEST(MoneyExact, DuplicateKeysLastWinsForTheTextToo) {
  const auto parsed =
      parse_create_order(R"({"items":[{"product_id":1,"quantity":1,"price":1e-9,"price":2.50}]})");
  ASSERT_TRUE(std::holds_alternative<CreateOrder>(parsed));
  EXPECT_EQ(std::get<CreateOrder>(parsed).items[0].price_cents, 250);
}
