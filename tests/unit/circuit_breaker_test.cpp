// CircuitBreaker: open on failure, one trial after the open period, close on success.
#include "core/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <thread>

using os::CircuitBreaker;

TEST(CircuitBreaker, OpensOnFailureAndLetsOneTrialThroughLater) {
  CircuitBreaker b("redis", os::Millis(30));
  EXPECT_TRUE(b.allow());
  b.on_failure("down");
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(b.allow());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(b.allow());   // the trial
  EXPECT_FALSE(b.allow());  // only one at a time
  EXPECT_EQ(b.state(), CircuitBreaker::State::HalfOpen);
  b.on_success();
  EXPECT_EQ(b.state(), CircuitBreaker::State::Closed);
  EXPECT_TRUE(b.allow());
}

TEST(CircuitBreaker, AFailedTrialOpensAgain) {
  CircuitBreaker b("redis", os::Millis(30));
  b.on_failure("down");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(b.allow());
  b.on_failure("still down");
  EXPECT_EQ(b.state(), CircuitBreaker::State::Open);
  EXPECT_FALSE(b.allow());
}
