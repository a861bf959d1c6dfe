// The process_order task: wait PROCESS_ORDER_DELAY_SECONDS (a timer, not a blocked
// thread), then set processed_at once. Running it twice changes nothing, and a run for an
// order already processed returns at once, without the delay.
#pragma once
#include "cache/order_cache.hpp"
#include "db/order_repository.hpp"
#include "tasks/task_queue.hpp"

namespace os::tasks {

class OrderProcessor {
 public:
  OrderProcessor(db::OrderRepository& orders, cache::OrderCache& cache, Millis delay,
                 std::string worker_name)
      : orders_(orders), cache_(cache), delay_(delay), worker_name_(std::move(worker_name)) {}

  // Throws on a transient failure (database down); the worker retries.
  awaitable<void> run(const Task& task);

 private:
  db::OrderRepository& orders_;
  cache::OrderCache& cache_;
  Millis delay_;
  std::string worker_name_;
};

}  // namespace os::tasks
