// domain::parse_new_order_event: what the consumer accepts from the new_order queue, and
// what it dead-letters at once as never processable.
#include "domain/new_order_event.hpp"

#include <gtest/gtest.h>

using os::domain::parse_new_order_event;

namespace {
constexpr const char* kOrder = "0190b2a4-7c1e-7f00-8a00-000000000001";
}

TEST(NewOrderEvent, TakesTheOrderAndEventIdsFromThePayload) {
  const auto e = parse_new_order_event(
      std::string(R"({"event_id":"e-1","event_type":"new_order","order_id":")") + kOrder +
          R"(","user_id":7})",
      "message-1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event_id, "e-1");
  EXPECT_EQ(e->order_id, kOrder);
  EXPECT_EQ(e->trace_id, "");
}

TEST(NewOrderEvent, FallsBackToTheMessageIdForTheEventId) {
  const auto e =
      parse_new_order_event(std::string(R"({"order_id":")") + kOrder + R"("})", "message-1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event_id, "message-1");
}

TEST(NewOrderEvent, RejectsWhatCanNeverBeProcessed) {
  const std::string order = kOrder;
  for (const std::string body : {
           std::string("not json"),
           std::string("[1,2]"),
           std::string(R"("a string")"),
           std::string(R"({"event_id":"e"})"),
           std::string(R"({"event_id":"e","order_id":"not-a-uuid"})"),
           std::string(R"({"event_id":"e","order_id":42})"),
           R"({"event_id":"e","order_id":")" + order + R"(x"})",
           std::string(R"({"order_id":")") + order + R"(", "event_id": 5})",
       }) {
    EXPECT_FALSE(parse_new_order_event(body, "")) << body;
  }
  // no event id anywhere, or one too long
  EXPECT_FALSE(parse_new_order_event(R"({"order_id":")" + order + R"("})", ""));
  EXPECT_FALSE(parse_new_order_event(R"({"order_id":")" + order + R"("})",
                                     std::string(os::domain::kMaxEventIdLength + 1, 'x')));
  EXPECT_TRUE(parse_new_order_event(R"({"order_id":")" + order + R"("})",
                                    std::string(os::domain::kMaxEventIdLength, 'x')));
}

TEST(NewOrderEvent, EventIdsAreVisibleAsciiOfBoundedLength) {
  using os::domain::is_valid_event_id;
  EXPECT_TRUE(is_valid_event_id("0190b2a4-7c1e-7f00-8a00-000000000001"));
  EXPECT_TRUE(is_valid_event_id("e-1"));
  EXPECT_TRUE(is_valid_event_id("!~{}\"\\,"));  // quoted by the inbox's array literal
  EXPECT_TRUE(is_valid_event_id(std::string(os::domain::kMaxEventIdLength, 'x')));
  EXPECT_FALSE(is_valid_event_id(""));
  EXPECT_FALSE(is_valid_event_id(std::string(os::domain::kMaxEventIdLength + 1, 'x')));
  EXPECT_FALSE(is_valid_event_id(std::string("e\0-1", 4)));  // PostgreSQL's text refuses NUL
  EXPECT_FALSE(is_valid_event_id("e\x01-1"));
  EXPECT_FALSE(is_valid_event_id("e\n1"));
  EXPECT_FALSE(is_valid_event_id("e\t1"));
  EXPECT_FALSE(is_valid_event_id("e 1"));
  EXPECT_FALSE(is_valid_event_id("e\x7f"));
  EXPECT_FALSE(is_valid_event_id("\xC3\xA9"));  // non-ASCII, even valid UTF-8
  EXPECT_FALSE(is_valid_event_id("\xFF"));      // invalid UTF-8
}

TEST(NewOrderEvent, RejectsAnEventIdTheInboxCouldNotRecordWithItsReason) {
  const std::string order = kOrder;
  for (const std::string& event_id : {
           std::string(R"(e\u0000-1)"),  // a NUL, as JSON writes it
           std::string(R"(e\u0001)"),
           std::string(R"(e\n)"),
           std::string(R"(caf\u00e9)"),
           std::string(os::domain::kMaxEventIdLength + 1, 'x'),
       }) {
    const auto body = R"({"event_id":")" + event_id + R"(","order_id":")" + order + R"("})";
    std::string why;
    // the message id does not stand in for an event id that is there but invalid
    EXPECT_FALSE(parse_new_order_event(body, "message-1", &why)) << body;
    EXPECT_NE(why.find("event id"), std::string::npos) << why;
  }
  // an invalid message id, when it is the event id
  std::string why;
  EXPECT_FALSE(
      parse_new_order_event(R"({"order_id":")" + order + R"("})", std::string("m\0", 2), &why));
  EXPECT_NE(why.find("event id"), std::string::npos) << why;
  why.clear();
  EXPECT_FALSE(parse_new_order_event("[1]", "m", &why));
  EXPECT_NE(why.find("JSON object"), std::string::npos) << why;
  why.clear();
  EXPECT_FALSE(parse_new_order_event(R"({"event_id":"e","order_id":"x"})", "m", &why));
  EXPECT_NE(why.find("order_id"), std::string::npos) << why;
}
