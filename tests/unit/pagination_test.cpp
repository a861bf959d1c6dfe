#include "domain/pagination.hpp"
#include "domain/text.hpp"

#include <gtest/gtest.h>

using namespace os::domain;

TEST(Cursor, RoundTrips) {
  const PageCursor c{"2026-01-02T03:04:05.123456Z", "0190a0b0-0000-7000-8000-000000000001"};
  const auto back = decode_cursor(encode_cursor(c));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->created_at, c.created_at);
  EXPECT_EQ(back->order_id, c.order_id);
}

TEST(Cursor, RejectsTampering) {
  EXPECT_FALSE(decode_cursor("").has_value());
  EXPECT_FALSE(decode_cursor("!!!").has_value());
  EXPECT_FALSE(decode_cursor(base64url_encode("2026-01-02|not-a-uuid")).has_value());
  EXPECT_FALSE(decode_cursor(
                   base64url_encode("'; drop table orders;--|0190a0b0-0000-7000-8000-000000000001"))
                   .has_value());
}

TEST(Base64Url, RoundTripsBinary) {
  const std::string data("\x00\xff\x10 hello", 9);
  EXPECT_EQ(base64url_decode(base64url_encode(data)), data);
}

TEST(Cursor, RefusesWellShapedButImpossibleTimestamps) {
  const std::string id = "01a2340f-108a-7ec6-94fe-8380c5f4ff7e";
  for (const char* ts :
       {"2026-02-30T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "0000-01-01T00:00:00.000000Z",
        "2026-01-01T24:00:00.000000Z", "2026-01-01T00:60:00.000000Z", "2026-01-01T00:00:61.000000Z",
        "2025-02-29T00:00:00.000000Z", "2026-00-10T00:00:00.000000Z"}) {
    EXPECT_FALSE(decode_cursor(base64url_encode(std::string(ts) + "|" + id))) << ts;
  }
  EXPECT_TRUE(decode_cursor(base64url_encode("2024-02-29T23:59:59.999999Z|" + id)));
}
