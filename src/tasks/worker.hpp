// Runs tasks from the stream: up to WORKER_CONCURRENCY at once as coroutines, ack after
// completion. A run that failed because a dependency was down is put off with capped
// backoff for as long as it takes (never dead-lettered); a task that can never succeed
// (unknown task, an order that does not exist) is dead-lettered at once with the reason;
// any other failure is retried up to TASK_MAX_ATTEMPTS. Tasks that a crashed worker left
// pending are reclaimed after the visibility timeout.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <list>
#include <string>

#include "core/dependency_health.hpp"
#include "core/metrics.hpp"
#include "tasks/process_order.hpp"
#include "tasks/task_queue.hpp"

namespace os::tasks {

class Worker {
 public:
  Worker(TaskQueue& queue, OrderProcessor& processor, const config::TaskSettings& settings,
         Metrics& metrics, std::string name)
      : queue_(queue),
        processor_(processor),
        settings_(settings),
        metrics_(metrics),
        name_(std::move(name)),
        health_("worker") {}

  // Runs until stopped (core/supervisor.hpp), then waits up to `grace` for the tasks in
  // flight; those still running then are cancelled and stay pending (another worker
  // reclaims them). Nothing it started outlives this call.
  awaitable<void> run(Millis grace);

 private:
  // One round: waits for a free slot, reclaims and reports when due, reads new tasks.
  awaitable<void> pass();
  awaitable<void> execute(Task task);
  awaitable<void> settle(const Task& task, std::exception_ptr error);
  // Waits until a running task finishes, or `until`, or the stop.
  awaitable<void> wait_for_task_end(Clock::time_point until);
  awaitable<void> drain(Millis grace);
  void start(Task task);

  TaskQueue& queue_;
  OrderProcessor& processor_;
  const config::TaskSettings& settings_;
  Metrics& metrics_;
  std::string name_;
  DependencyHealth health_;
  int running_ = 0;
  std::list<asio::cancellation_signal> cancel_signals_;  // one per running task
  asio::steady_timer* task_end_waiter_ = nullptr;
  asio::any_io_executor queue_executor_;
  bool group_ready_ = false;  // false: the next pass creates the consumer group if missing
  Clock::time_point last_reclaim_{};
  Clock::time_point next_gauges_{};
};

}  // namespace os::tasks
