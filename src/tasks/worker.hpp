// Runs tasks from the stream: up to WORKER_CONCURRENCY at once as coroutines, ack after
// completion, retry with backoff, dead-letter after the last attempt, and reclaim tasks
// that a crashed worker left pending.
#pragma once
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>

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
        name_(std::move(name)) {}

  // Returns after `stopping` is set and in-flight tasks finished (or the grace ran out;
  // unfinished ones stay pending and are reclaimed by another worker).
  awaitable<void> run(const std::atomic<bool>& stopping, Millis grace);

 private:
  awaitable<void> execute(Task task);
  awaitable<void> wait_for_slot(const std::atomic<bool>& stopping);
  void start(Task task);

  TaskQueue& queue_;
  OrderProcessor& processor_;
  const config::TaskSettings& settings_;
  Metrics& metrics_;
  std::string name_;
  int running_ = 0;
  asio::steady_timer* slot_waiter_ = nullptr;
  asio::any_io_executor queue_executor_;
};

}  // namespace os::tasks
