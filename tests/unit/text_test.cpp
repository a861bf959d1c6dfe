// domain/text: the one trim, join and hex.
#include "domain/text.hpp"

#include <gtest/gtest.h>

using namespace os::domain;

TEST(Text, TrimJoinHex) {
  EXPECT_EQ(trim("  a b \t\r"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("xxaxx", "x"), "a");
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({}, ","), "");
  EXPECT_EQ(join({"", "b"}, ","), ",b");
  EXPECT_EQ(*hex_value('F'), 15);
  EXPECT_FALSE(hex_value('g'));
  const unsigned char bytes[] = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes, 4), "007fabff");
}
