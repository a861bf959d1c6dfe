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
