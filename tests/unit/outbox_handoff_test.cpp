// OutboxHandoff: the api leases a new row to the relay of its process only while that
// relay works and is not too far behind; what it hands over reaches the relay in order,
// with a wake-up that says "handed", not "claim".
#include "db/outbox_handoff.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

using os::db::OutboxEvent;
using os::db::OutboxHandoff;
using namespace std::chrono_literals;

namespace {
OutboxEvent event(int n) {
  return {"event-" + std::to_string(n), "new_order", "order-" + std::to_string(n), "{}", 1, ""};
}
}  // namespace

TEST(OutboxHandoff, NoLeaseWhileNoRelayWorks) {
  OutboxHandoff handoff(30s);
  EXPECT_EQ(handoff.lease_for_new_row(), 0s);
}

TEST(OutboxHandoff, LeasesWhileTheRelayIsAttachedAndHandsOverInOrder) {
  boost::asio::io_context io;
  OutboxHandoff handoff(30s);
  int interrupts = 0;
  handoff.doorbell().attach(io.get_executor(), [&] { ++interrupts; });
  EXPECT_EQ(handoff.lease_for_new_row(), 30s);
  handoff.hand_over(event(1));
  handoff.hand_over(event(2));
  io.run();
  EXPECT_EQ(interrupts, 1);
  EXPECT_EQ(handoff.doorbell().take(), OutboxHandoff::kHanded);
  const auto taken = handoff.take();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].id, "event-1");
  EXPECT_EQ(taken[1].id, "event-2");
  EXPECT_TRUE(handoff.take().empty());
}

TEST(OutboxHandoff, NoLeaseOnceTheRelayDetachesButWhatWasHandedWaitsForIt) {
  boost::asio::io_context io;
  OutboxHandoff handoff(30s);
  handoff.doorbell().attach(io.get_executor(), [] {});
  EXPECT_EQ(handoff.lease_for_new_row(), 30s);
  handoff.doorbell().detach();  // the relay failed between the insert and the commit
  EXPECT_EQ(handoff.lease_for_new_row(), 0s);
  handoff.hand_over(event(1));
  ASSERT_EQ(handoff.take().size(), 1u);  // kept for the relay when it works again
}

TEST(OutboxHandoff, NoLeaseWhenTheRelayIsTooFarBehind) {
  boost::asio::io_context io;
  OutboxHandoff handoff(30s);
  handoff.doorbell().attach(io.get_executor(), [] {});
  for (std::size_t i = 0; i < OutboxHandoff::kMaxWaiting; ++i) {
    handoff.hand_over(event(static_cast<int>(i)));
  }
  EXPECT_EQ(handoff.lease_for_new_row(), 0s);
  EXPECT_EQ(handoff.take().size(), OutboxHandoff::kMaxWaiting);
  EXPECT_EQ(handoff.lease_for_new_row(), 30s);
}
