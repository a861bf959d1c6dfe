// The safety net under every other delivery mechanism: every RECONCILE_INTERVAL_SECONDS,
// orders still unprocessed RECONCILE_AFTER_SECONDS after creation get their process_order
// task enqueued again, directly on the task queue, in batches of RECONCILE_BATCH_SIZE.
// Covers events or tasks lost anywhere (a flushed or failed-over Redis, a lost broker
// message, a bug); process_order is idempotent, so a needless re-enqueue changes nothing.
// An order whose task is still live (waiting in the stream, running, or delayed: see
// tasks/task_queue.hpp) gets no second one, so a long worker outage never multiplies the
// backlog. The reconcile role also runs housekeeping (tasks/housekeeping.hpp), which
// reports the outbox backlog, so that its alert still sees unpublished events when every
// relay is down.
#pragma once
#include "config/settings.hpp"
#include "core/dependency_health.hpp"
#include "core/metrics.hpp"
#include "db/reconcile_repository.hpp"
#include "tasks/task_queue.hpp"

namespace os::tasks {

class Reconciler {
 public:
  // `in_flight`: an order whose task was enqueued this recently is left alone (the task
  // visibility timeout: its task may still be running).
  Reconciler(const config::ReconcileSettings& settings, std::chrono::milliseconds in_flight,
             db::ReconcileRepository& repository, TaskQueue& queue, Metrics& metrics)
      : settings_(settings),
        in_flight_(in_flight),
        repository_(repository),
        queue_(queue),
        metrics_(metrics) {}

  // Until stopped (core/supervisor.hpp): a pass every RECONCILE_INTERVAL_SECONDS.
  awaitable<void> run();
  // One pass: batches until no due order is left; returns how many were enqueued.
  awaitable<std::size_t> pass();

 private:
  const config::ReconcileSettings& settings_;
  std::chrono::milliseconds in_flight_;
  db::ReconcileRepository& repository_;
  TaskQueue& queue_;
  Metrics& metrics_;
  DependencyHealth health_{"reconciler"};
};

void describe_reconciler_metrics(Metrics& metrics);

}  // namespace os::tasks
