// events::ConfirmTracker, the relay's bookkeeping of rows published and not confirmed:
// a verdict settles only its own tag's row, a repeated tag or rows left on a replaced
// connection are broken invariants, and a release hands back every row in flight.
#include "events/confirm_tracker.hpp"

#include <gtest/gtest.h>

namespace os::events {
namespace {

using Status = amqp::PublishResult::Status;

db::OutboxEvent row(const std::string& id) {
  db::OutboxEvent e;
  e.id = id;
  return e;
}

amqp::AmqpConnection::Settled verdict(std::uint64_t tag, Status status, std::string reason = {}) {
  return {tag, amqp::PublishResult{status, std::move(reason)}};
}

const auto t0 = Clock::time_point{} + std::chrono::seconds(100);

TEST(RelayConfirms, EachVerdictSettlesItsOwnRow) {
  ConfirmTracker t;
  t.sent(1, row("a"), t0, 7);
  t.sent(2, row("b"), t0, 7);
  t.sent(3, row("c"), t0, 7);
  t.sent(4, row("d"), t0, 7);
  const auto s =
      t.settle({verdict(2, Status::Confirmed), verdict(1, Status::Nacked),
                verdict(3, Status::Returned, "NO_ROUTE"), verdict(99, Status::Confirmed)});
  ASSERT_EQ(s.confirmed.size(), 1u);
  EXPECT_EQ(s.confirmed[0].id, "b");
  EXPECT_EQ(s.nacked, std::vector<std::string>{"a"});
  ASSERT_EQ(s.unroutable.count("NO_ROUTE"), 1u);
  EXPECT_EQ(s.unroutable.at("NO_ROUTE"), std::vector<std::string>{"c"});
  EXPECT_EQ(t.size(), 1u) << "only d is still in flight";
  // a verdict that comes again (or for a released row) changes nothing
  EXPECT_TRUE(t.settle({verdict(2, Status::Confirmed)}).confirmed.empty());
}

TEST(RelayConfirms, ARepeatedTagIsABrokenInvariantNotASilentMiss) {
  ConfirmTracker t;
  t.sent(1, row("a"), t0, 1);
  EXPECT_THROW(t.sent(1, row("b"), t0, 1), LogicError);
  // and it is not a dependency failure: the duty must not wait it out as an outage
  try {
    t.sent(1, row("c"), t0, 1);
  } catch (...) {
    EXPECT_EQ(classify(std::current_exception()).kind, FailureKind::Unknown);
  }
}

TEST(RelayConfirms, RowsOfAReplacedConnectionAreStrandedUntilReleased) {
  ConfirmTracker t;
  t.sent(1, row("a"), t0, 1);
  t.sent(2, row("b"), t0, 1);
  EXPECT_FALSE(t.stranded(1));
  EXPECT_TRUE(t.stranded(2)) << "connection 2's tags start at 1 again";
  EXPECT_THROW(t.sent(1, row("c"), t0, 2), LogicError);
  const auto released = t.release_all();
  EXPECT_EQ(released, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(t.empty());
  EXPECT_FALSE(t.stranded(2));
  t.sent(1, row("c"), t0, 2);  // the new connection's tag 1 is c's, never a's
  const auto s = t.settle({verdict(1, Status::Confirmed)});
  ASSERT_EQ(s.confirmed.size(), 1u);
  EXPECT_EQ(s.confirmed[0].id, "c");
}

TEST(RelayConfirms, OldestSentIsWhatTheConfirmTimeoutCountsFrom) {
  ConfirmTracker t;
  EXPECT_FALSE(t.oldest_sent());
  t.sent(5, row("late"), t0 + std::chrono::seconds(2), 1);
  t.sent(6, row("later"), t0 + std::chrono::seconds(3), 1);
  EXPECT_EQ(*t.oldest_sent(), t0 + std::chrono::seconds(2));
  t.settle({verdict(5, Status::Confirmed)});
  EXPECT_EQ(*t.oldest_sent(), t0 + std::chrono::seconds(3));
}

}  // namespace
}  // namespace os::events
