// Runs tasks from the stream: up to WORKER_CONCURRENCY at once as coroutines of one task
// group, each acked (or delayed, or dead-lettered: tasks/task_outcome.hpp) when it has
// finished. Besides reading new tasks, a pass does the worker's chores when they are
// due: moving delayed tasks that are due back into the stream, keeping the claim on the
// tasks it runs fresh (so none is reclaimed while this worker lives), reclaiming tasks a
// stopped worker left pending after the visibility timeout, and the queue gauges.
#pragma once
#include <optional>
#include <set>
#include <string>

#include "core/dependency_health.hpp"
#include "core/metrics.hpp"
#include "core/periodic.hpp"
#include "core/task_group.hpp"
#include "tasks/process_order.hpp"
#include "tasks/task_outcome.hpp"
#include "tasks/task_queue.hpp"

namespace os::tasks {

class Worker {
 public:
  Worker(TaskQueue& queue, OrderProcessor& processor, const config::TaskSettings& settings,
         Metrics& metrics, std::string name);

  // Runs until stopped (core/supervisor.hpp), then waits up to `grace` for the tasks in
  // flight; those still running then are cancelled and stay pending (another worker
  // reclaims them). Nothing it started outlives this call.
  awaitable<void> run(Millis grace);

 private:
  // One round: waits for a free slot, does the chores that are due, reads new tasks.
  awaitable<void> pass();
  awaitable<void> chores();
  void start(Task task);
  awaitable<void> execute(Task task);
  awaitable<void> run_task(const Task& task);
  // Carries out the decision on a finished run (ack, delay or dead letter).
  awaitable<void> conclude(const Task& task, std::exception_ptr error);
  awaitable<void> drain(Millis grace);
  void count_dropped(std::size_t dropped);

  TaskQueue& queue_;
  OrderProcessor& processor_;
  const config::TaskSettings& settings_;
  Metrics& metrics_;
  std::string name_;
  DependencyHealth health_{"worker"};
  std::optional<TaskGroup> tasks_;  // made in run(), on the worker's executor
  std::set<std::string> running_;   // entry ids; at most WORKER_CONCURRENCY
  bool group_ready_ = false;        // false: the next pass creates the consumer group
  Every promote_;
  Every keep_claimed_;
  Every reclaim_;
  Every gauges_;
};

}  // namespace os::tasks
