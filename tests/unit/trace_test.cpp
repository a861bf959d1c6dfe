#include "domain/trace.hpp"

#include <gtest/gtest.h>

using namespace os::domain;

TEST(Trace, ParsesValidTraceparent) {
  const auto t = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->span_id, "00f067aa0ba902b7");
}

TEST(Trace, MalformedIsIgnored) {
  for (const char* h : {"", "garbage", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"}) {
    EXPECT_FALSE(parse_traceparent(h)) << h;
  }
}

TEST(Trace, NewTracesFormatAndParseBack) {
  const auto t = new_trace();
  const auto back = parse_traceparent(format_traceparent(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->trace_id, t.trace_id);
  EXPECT_EQ(child_span(t.trace_id).trace_id, t.trace_id);
}
