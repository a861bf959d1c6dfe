// A group of coroutines a duty starts and must not outlive, in the shape of Beast's
// awaitable task_group (advanced_server_flex_awaitable.cpp): spawn, cancel all, wait.
// Each task gets its own cancellation signal, so emit() reaches whatever each one awaits.
// Single-threaded: the group and its tasks run on one executor (one io_context thread).
// The owner waits for all tasks (wait_for_all) before destroying the group.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <list>
#include <vector>

#include "core/async.hpp"

namespace os {

class TaskGroup {
 public:
  explicit TaskGroup(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Starts `task` on the group's executor. A task that throws is logged; it never takes
  // the group down.
  void spawn(awaitable<void> task);
  std::size_t size() const { return running_; }
  // Cancels every running task (terminal: Asio's "stop now").
  void emit(asio::cancellation_type type = asio::cancellation_type::terminal);
  // Returns when a task ends, at `until`, or when the caller is cancelled.
  awaitable<void> wait_for_one_to_end(Clock::time_point until);
  // Returns when no task is left (true), or at `until` / the caller's cancellation (false).
  awaitable<bool> wait_for_all(Clock::time_point until);
  // Waits for every task; the caller's stop (its cancellation) is passed on to them, and
  // their ends are waited for too. For duties that run side by side until stopped.
  awaitable<void> join();

 private:
  void ended();

  asio::any_io_executor executor_;
  std::size_t running_ = 0;
  std::list<asio::cancellation_signal> signals_;  // one per running task
  std::vector<asio::steady_timer*> waiters_;      // woken when a task ends
};

}  // namespace os
