// os::supervise: the one loop of every background duty. Failures are classified by type
// (an exception without a message is still a failure), backoff grows with jitter and a
// success resets it, and the stop (Asio cancellation) ends whatever the duty awaits.
// The pauses between passes go to a fake clock, so nothing here waits for a backoff.
#include "core/supervisor.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <functional>
#include <stdexcept>

namespace os {
namespace {

using Outcome = std::function<void()>;  // throws, or returns for a successful pass

// Runs `outcomes` as successive passes; the stop arrives during the last one (whose
// outcome is then ignored, as for any pass the stop interrupts). The pause
// advances a fake clock and records each backoff.
struct Harness {
  asio::io_context io;
  StopSignal stop;
  DependencyHealth health{"test duty"};
  std::deque<Outcome> outcomes;
  std::vector<Failure> failures;
  std::vector<Millis> pauses;
  Millis fake_now{0};
  int passes = 0;
  bool finished = false;

  DutyLoop loop(RetryPolicy retry = {.base = Millis(100), .cap = Millis(1600)}) {
    return {.duty = "test duty",
            .pass = [this]() -> awaitable<void> {
              ++passes;
              auto outcome = std::move(outcomes.front());
              outcomes.pop_front();
              if (outcomes.empty()) stop.request(io.get_executor());
              co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
              outcome();
            },
            .on_failure = [this](const Failure& f) { failures.push_back(f); },
            .retry = retry,
            .pause = [this](Millis d) -> awaitable<void> {
              pauses.push_back(d);
              fake_now += d;
              co_return;
            }};
  }

  void run(DutyLoop duty) {
    asio::co_spawn(io, supervise(std::move(duty), health), stop.bind([this](std::exception_ptr e) {
      ASSERT_FALSE(e);
      finished = true;
    }));
    io.run();
  }
};

Outcome fails_with(std::exception_ptr e) {
  return [e] { std::rethrow_exception(e); };
}
Outcome succeeds() {
  return [] {};
}
Outcome unknown(const char* what) {
  return fails_with(std::make_exception_ptr(std::runtime_error(what)));
}
Outcome transient(Dependency dependency) {
  return fails_with(std::make_exception_ptr(DependencyUnavailable(dependency, "gone")));
}

TEST(Supervisor, AnExceptionWithoutAMessageIsAFailure) {
  Harness h;
  h.outcomes = {unknown(""), succeeds(), succeeds()};
  h.run(h.loop());
  ASSERT_TRUE(h.finished);
  ASSERT_EQ(h.failures.size(), 1u);
  EXPECT_EQ(h.failures[0].kind, FailureKind::Unknown);
  EXPECT_FALSE(h.failures[0].reason.empty());
  EXPECT_EQ(h.pauses.size(), 1u);  // backed off once, not counted as a success
}

TEST(Supervisor, ClassifiesByTypeNotByMessage) {
  Harness h;
  h.outcomes = {transient(Dependency::Postgres),
                fails_with(std::make_exception_ptr(PermanentFailure("dependency unavailable"))),
                fails_with(std::make_exception_ptr(42)), succeeds()};
  h.run(h.loop());
  ASSERT_EQ(h.failures.size(), 3u);
  EXPECT_EQ(h.failures[0].kind, FailureKind::Transient);
  EXPECT_EQ(h.failures[0].dependency, Dependency::Postgres);
  EXPECT_EQ(h.failures[1].kind, FailureKind::Permanent);
  EXPECT_EQ(h.failures[2].kind, FailureKind::Unknown);
  EXPECT_FALSE(h.failures[2].reason.empty());
}

TEST(Supervisor, BacksOffExponentiallyWithJitterUpToTheCap) {
  Harness h;
  for (int i = 0; i < 8; ++i) h.outcomes.push_back(transient(Dependency::RabbitMQ));
  h.outcomes.push_back(succeeds());
  h.run(h.loop({.base = Millis(100), .cap = Millis(1600)}));
  ASSERT_EQ(h.pauses.size(), 8u);
  for (std::size_t i = 0; i < h.pauses.size(); ++i) {
    const auto full = std::min<std::int64_t>(1600, 100LL << i);
    EXPECT_GE(h.pauses[i].count(), full / 2) << "pause " << i;
    EXPECT_LE(h.pauses[i].count(), full) << "pause " << i;
  }
  EXPECT_GT(h.fake_now, Millis(1600 * 2));  // the fake clock, not real time
}

TEST(Supervisor, ASuccessResetsTheBackoff) {
  Harness h;
  h.outcomes = {transient(Dependency::Redis), transient(Dependency::Redis),
                transient(Dependency::Redis), succeeds(),
                transient(Dependency::Redis), succeeds()};
  h.run(h.loop({.base = Millis(100), .cap = Millis(10'000)}));
  ASSERT_EQ(h.pauses.size(), 4u);
  EXPECT_GE(h.pauses[2].count(), 200);  // third in a row: 400 ms, jittered down to >= 200
  EXPECT_LE(h.pauses[3].count(), 100);  // first after a success: back to the base
}

TEST(Supervisor, MarksOnlyWhatASuccessfulPassProves) {
  Harness h;
  h.health.down(Dependency::Postgres, "down");  // reported by the duty's own work, not by a pass
  h.outcomes = {transient(Dependency::Redis), succeeds(),
                succeeds()};  // the last one meets the stop
  auto loop = h.loop();
  loop.proves = {Dependency::Redis};
  h.run(std::move(loop));
  EXPECT_TRUE(h.health.any_down());  // postgres was not shown to be up
  h.health.up(Dependency::Postgres);
  EXPECT_FALSE(h.health.any_down());
}

TEST(Supervisor, StopCancelsWhatThePassAwaitsAndIsNotAFailure) {
  asio::io_context io;
  StopSignal stop;
  DependencyHealth health("test duty");
  int failures = 0;
  bool finished = false;
  DutyLoop loop{.duty = "test duty",
                .pass = []() -> awaitable<void> {
                  asio::steady_timer forever(co_await asio::this_coro::executor,
                                             std::chrono::hours(1));
                  co_await forever.async_wait(asio::use_awaitable);  // throws when cancelled
                },
                .on_failure = [&](const Failure&) { ++failures; }};
  asio::co_spawn(io, supervise(std::move(loop), health),
                 stop.bind([&](std::exception_ptr e) { finished = !e; }));
  asio::steady_timer soon(io, Millis(20));
  soon.async_wait([&](boost::system::error_code) { stop.request(io.get_executor()); });
  const auto started = Clock::now();
  io.run();  // returns once the duty has ended: no hour-long wait
  EXPECT_TRUE(finished);
  EXPECT_EQ(failures, 0);
  EXPECT_LT(Clock::now() - started, std::chrono::minutes(1));
}

TEST(Supervisor, StopDuringTheBackoffEndsItAtOnce) {
  asio::io_context io;
  StopSignal stop;
  DependencyHealth health("test duty");
  int passes = 0;
  DutyLoop loop{.duty = "test duty",
                .pass = [&]() -> awaitable<void> {
                  ++passes;
                  throw DependencyUnavailable(Dependency::Redis, "down");
                  co_return;
                },
                .retry = {.base = std::chrono::hours(1), .cap = std::chrono::hours(1)}};
  asio::co_spawn(io, supervise(std::move(loop), health), stop.bind(asio::detached));
  asio::steady_timer soon(io, Millis(20));
  soon.async_wait([&](boost::system::error_code) { stop.request(io.get_executor()); });
  io.run();  // the default pause is a timer, which the stop cancels
  EXPECT_EQ(passes, 1);
}

}  // namespace
}  // namespace os
