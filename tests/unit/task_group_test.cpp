// os::TaskGroup: spawn, wait for one / all, cancel all; a task's failure stays its own.
#include "core/task_group.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <stdexcept>

#include "core/sleep.hpp"

namespace os {
namespace {

using std::chrono::milliseconds;

// Coroutines are functions, not capturing lambdas: a lambda's captures die with the
// temporary lambda, before the coroutine runs.
awaitable<void> count_after(int& counter, Clock::duration wait) {
  co_await sleep_for(std::chrono::duration_cast<Millis>(wait));
  ++counter;
}

awaitable<void> fail_after(Clock::duration wait) {
  co_await sleep_for(std::chrono::duration_cast<Millis>(wait));
  throw std::runtime_error("boom");
}

TEST(TaskGroup, WaitsForEveryTask) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  int done = 0;
  bool all = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (int i = 1; i <= 3; ++i) {
          group.spawn(count_after(done, milliseconds(10 * i)));
        }
        EXPECT_EQ(group.size(), 3u);
        co_await group.wait_for_one_to_end(Clock::now() + std::chrono::seconds(5));
        EXPECT_GE(done, 1);
        all = co_await group.wait_for_all(Clock::now() + std::chrono::seconds(5));
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(all);
  EXPECT_EQ(done, 3);
  EXPECT_EQ(group.size(), 0u);
}

TEST(TaskGroup, WaitEndsAtItsDeadline) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  bool all = true;
  int never = 0;  // counted once the emit ended its sleep
  Clock::duration waited{};
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        group.spawn(count_after(never, std::chrono::seconds(30)));
        const auto start = Clock::now();
        all = co_await group.wait_for_all(start + milliseconds(50));
        waited = Clock::now() - start;
        group.emit();  // ends the sleeping task, so io.run() returns
      },
      asio::detached);
  io.run();
  EXPECT_FALSE(all);
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_EQ(group.size(), 0u);
}

TEST(TaskGroup, EmitCancelsWhatEachTaskAwaits) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  int finished = 0;
  bool all = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (int i = 0; i < 5; ++i) {
          // sleep_for ends early when cancelled
          group.spawn(count_after(finished, std::chrono::seconds(60)));
        }
        group.emit();
        all = co_await group.wait_for_all(Clock::now() + std::chrono::seconds(5));
      },
      asio::detached);
  const auto start = Clock::now();
  io.run();
  EXPECT_TRUE(all);
  EXPECT_EQ(finished, 5);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(TaskGroup, AFailingTaskDoesNotTakeTheOthersDown) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  int done = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        group.spawn(fail_after(milliseconds(1)));
        group.spawn(count_after(done, milliseconds(5)));
        co_await group.wait_for_all(Clock::now() + std::chrono::seconds(5));
      },
      asio::detached);
  io.run();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(group.size(), 0u);
}

}  // namespace
}  // namespace os
