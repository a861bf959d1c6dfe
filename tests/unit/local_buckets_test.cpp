// The in-process rate-limit fallback stays bounded whatever the number of clients.
#include <gtest/gtest.h>

#include "api/rate_limiter.hpp"

using os::api::LocalBuckets;

TEST(LocalBuckets, TakesTokensUntilEmpty) {
  LocalBuckets b(100);
  EXPECT_TRUE(b.take("a", 2, 0.001).allowed);
  EXPECT_TRUE(b.take("a", 2, 0.001).allowed);
  EXPECT_FALSE(b.take("a", 2, 0.001).allowed);
  EXPECT_TRUE(b.take("b", 2, 0.001).allowed);  // another client, another bucket
}

TEST(LocalBuckets, ForgetsTheLeastRecentlySeenBeyondItsBound) {
  LocalBuckets b(32);
  EXPECT_TRUE(b.take("first", 1, 0.001).allowed);
  EXPECT_FALSE(b.take("first", 1, 0.001).allowed);
  for (int i = 0; i < 10000; ++i) b.take("client-" + std::to_string(i), 1, 0.001);
  // "first" was pushed out: it starts again with a full bucket (memory stays bounded).
  EXPECT_TRUE(b.take("first", 1, 0.001).allowed);
}
