// tasks::decide_outcome: what becomes of a task after a run. A dependency that is down
// never dead-letters (capped backoff, however many times); a task that can never succeed
// is dead-lettered at once; other failures are retried TASK_MAX_ATTEMPTS times in all.
#include "tasks/task_outcome.hpp"

#include <gtest/gtest.h>

namespace os::tasks {
namespace {

using Kind = TaskOutcome::Kind;

Failure down() {
  return {FailureKind::Transient, Dependency::Postgres, "connection refused"};
}
Failure poison() {
  return {FailureKind::Permanent, std::nullopt, "order does not exist"};
}
Failure odd() {
  return {FailureKind::Unknown, std::nullopt, "unexpected"};
}

Task task(int attempt, int deferrals) {
  Task t;
  t.order_id = "o";
  t.attempt = attempt;
  t.deferrals = deferrals;
  return t;
}

TEST(TaskOutcome, SuccessIsAcked) {
  const config::TaskSettings s;
  EXPECT_EQ(decide_outcome(task(0, 0), std::nullopt, s).kind, Kind::Ack);
}

TEST(TaskOutcome, ADependencyDownDefersForeverWithCappedBackoff) {
  config::TaskSettings s;
  s.retry_max_backoff = Millis(10'000);
  Millis last{0};
  for (int deferrals = 0; deferrals < 1000; deferrals += 7) {
    const auto o = decide_outcome(task(0, deferrals), down(), s);
    ASSERT_EQ(o.kind, Kind::Defer) << deferrals;
    EXPECT_GE(o.delay, last);
    EXPECT_LE(o.delay, s.retry_max_backoff);
    last = o.delay;
  }
  EXPECT_EQ(last, s.retry_max_backoff);
  EXPECT_EQ(decide_outcome(task(0, 0), down(), s).delay, kTaskRetryBase);
}

TEST(TaskOutcome, PoisonIsDeadLetteredAtOnceWithItsReason) {
  const config::TaskSettings s;
  const auto o = decide_outcome(task(0, 0), poison(), s);
  EXPECT_EQ(o.kind, Kind::DeadLetter);
  EXPECT_EQ(o.reason, "order does not exist");
}

TEST(TaskOutcome, UnknownFailuresAreRetriedUpToMaxAttempts) {
  config::TaskSettings s;
  s.max_attempts = 3;
  EXPECT_EQ(decide_outcome(task(0, 0), odd(), s).kind, Kind::Retry);
  EXPECT_EQ(decide_outcome(task(0, 0), odd(), s).delay, kTaskRetryBase);
  EXPECT_EQ(decide_outcome(task(1, 0), odd(), s).kind, Kind::Retry);
  EXPECT_EQ(decide_outcome(task(1, 0), odd(), s).delay, 2 * kTaskRetryBase);
  EXPECT_EQ(decide_outcome(task(2, 0), odd(), s).kind, Kind::DeadLetter);
  EXPECT_EQ(decide_outcome(task(40, 0), odd(), s).delay, Millis(0));
  EXPECT_EQ(decide_outcome(task(30, 0), odd(), config::TaskSettings{}).kind, Kind::DeadLetter);
}

TEST(TaskOutcome, DeferralsDoNotUseUpAttempts) {
  config::TaskSettings s;
  s.max_attempts = 2;
  EXPECT_EQ(decide_outcome(task(0, 500), odd(), s).kind, Kind::Retry);
}

}  // namespace
}  // namespace os::tasks
