// os::Every: a chore is due at once, then once per period (± jitter), on a fake clock.
#include "core/periodic.hpp"

#include <gtest/gtest.h>

namespace os {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Every, DueAtOnceThenOncePerPeriod) {
  Every every(seconds(10), 0.0);
  const auto t0 = Clock::time_point{} + seconds(1000);
  EXPECT_TRUE(every.due(t0));
  EXPECT_FALSE(every.due(t0));
  EXPECT_FALSE(every.due(t0 + seconds(9)));
  EXPECT_TRUE(every.due(t0 + seconds(10)));
  EXPECT_FALSE(every.due(t0 + seconds(19)));
  // Late: the next time counts from when it was done, not from when it was due.
  EXPECT_TRUE(every.due(t0 + seconds(35)));
  EXPECT_FALSE(every.due(t0 + seconds(44)));
  EXPECT_TRUE(every.due(t0 + seconds(45)));
}

TEST(Every, JitterStaysWithinItsFraction) {
  Every every(seconds(10), 0.2);
  auto now = Clock::time_point{} + seconds(1000);
  ASSERT_TRUE(every.due(now));
  bool saw_early = false, saw_late = false;
  for (int i = 0; i < 200; ++i) {
    const auto wait = every.next() - now;
    EXPECT_GE(wait, seconds(8));
    EXPECT_LE(wait, seconds(12));
    saw_early |= wait < seconds(10);
    saw_late |= wait > seconds(10);
    now = every.next();
    ASSERT_TRUE(every.due(now));
  }
  EXPECT_TRUE(saw_early && saw_late) << "jitter spreads both ways";
}

TEST(Every, PostponeMovesTheNextTime) {
  Every every(milliseconds(500), 0.0);
  const auto t0 = Clock::time_point{} + seconds(1);
  every.postpone(t0);
  EXPECT_FALSE(every.due(t0 + milliseconds(499)));
  EXPECT_TRUE(every.due(t0 + milliseconds(500)));
}

}  // namespace
}  // namespace os
