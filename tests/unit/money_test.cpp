#include "domain/money.hpp"

#include <gtest/gtest.h>

#include "domain/order.hpp"

using namespace os::domain;

TEST(Money, ThreeTimesTenCentsIsExactlyThirtyCents) {
  const std::vector<OrderItem> items{{1, 3, *cents_from_double(0.10)}};
  EXPECT_EQ(compute_total_cents(items), 30);
  EXPECT_EQ(format_money(compute_total_cents(items)), "0.3");
}

TEST(Money, SumsAcrossItemsWithoutFloatDrift) {
  const std::vector<OrderItem> items{{1, 2, 1000}, {2, 1, 1}, {3, 7, 10}};
  EXPECT_EQ(format_money(compute_total_cents(items)), "20.71");
}

TEST(Money, RejectsMoreThanTwoDecimals) {
  EXPECT_FALSE(cents_from_double(0.001).has_value());
  EXPECT_FALSE(cents_from_double(1.005).has_value());
  EXPECT_EQ(cents_from_double(19.99), 1999);
  EXPECT_EQ(cents_from_double(1000000), 100000000);
}

TEST(Money, FormatsLikePythonFloatRepr) {
  EXPECT_EQ(format_money(2000), "20.0");
  EXPECT_EQ(format_money(2050), "20.5");
  EXPECT_EQ(format_money(2001), "20.01");
  EXPECT_EQ(format_money(1), "0.01");
  EXPECT_EQ(format_decimal(2050), "20.50");
}

TEST(Money, ParsesNumericText) {
  EXPECT_EQ(cents_from_decimal("20.01"), 2001);
  EXPECT_EQ(cents_from_decimal("7"), 700);
  EXPECT_EQ(cents_from_decimal("0.30"), 30);
  EXPECT_FALSE(cents_from_decimal("1.234").has_value());
  EXPECT_FALSE(cents_from_decimal("abc").has_value());
}
