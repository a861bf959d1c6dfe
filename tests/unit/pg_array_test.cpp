// db::array_literal: the one way arrays are passed to PostgreSQL ($1::text[], $1::uuid[]).
#include <gtest/gtest.h>

#include "db/pg_connection.hpp"

TEST(PgArrayLiteral, QuotesEveryElement) {
  EXPECT_EQ(os::db::array_literal({}), "{}");
  EXPECT_EQ(os::db::array_literal({"a", "b,c"}), R"({"a","b,c"})");
  EXPECT_EQ(os::db::array_literal({R"(x"y\z)", "NULL"}), R"({"x\"y\\z","NULL"})");
}
