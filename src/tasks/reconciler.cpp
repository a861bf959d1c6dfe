#include "tasks/reconciler.hpp"

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "core/supervisor.hpp"

namespace os::tasks {

void describe_reconciler_metrics(Metrics& m) {
  m.describe("orders_reconciled_total", Metrics::Type::Counter,
             "Orders whose process_order task the reconciler enqueued again.");
  m.describe("orders_unprocessed_oldest_age_seconds", Metrics::Type::Gauge,
             "Age of the oldest order not processed yet (0 when none).");
}

awaitable<std::size_t> Reconciler::pass() {
  std::size_t added = 0;
  const std::function<awaitable<void>(const std::vector<domain::NewOrderEvent>&)> enqueue =
      [this, &added](std::vector<domain::NewOrderEvent> due) -> awaitable<void> {
    for (auto& o : due) {
      if (o.event_id.empty()) o.event_id = "reconcile:" + o.order_id;
    }
    // An order whose task is still live (waiting, running or delayed) gets none more.
    added += co_await queue_.enqueue_process_orders(due);
  };
  std::size_t due = 0;
  for (;;) {
    const auto n = co_await repository_.requeue_due(settings_.after, in_flight_,
                                                    settings_.batch_size, enqueue);
    due += n;
    if (n < static_cast<std::size_t>(settings_.batch_size)) break;
  }
  metrics_.set("orders_unprocessed_oldest_age_seconds", "",
               co_await repository_.oldest_unprocessed_age());
  if (added > 0) {
    metrics_.add("orders_reconciled_total", "", static_cast<double>(added));
    log::warn("reconciler re-enqueued unprocessed orders",
              {{"orders", static_cast<std::int64_t>(added)},
               {"still_live", static_cast<std::int64_t>(due - added)},
               {"older_than_ms", static_cast<std::int64_t>(settings_.after.count())}});
  }
  co_return added;
}

awaitable<void> Reconciler::run() {
  log::info("reconciler started",
            {{"after_ms", static_cast<std::int64_t>(settings_.after.count())},
             {"interval_ms", static_cast<std::int64_t>(settings_.interval.count())}});
  const auto interval = std::chrono::duration_cast<Millis>(settings_.interval);
  DutyLoop loop{.duty = "reconciler",
                .pass = [this, interval]() -> awaitable<void> {
                  co_await pass();
                  co_await sleep_for(interval);
                },
                .retry = {.base = Millis(500), .cap = std::min(interval, Millis(2000))}};
  co_await supervise(std::move(loop), health_);
}

}  // namespace os::tasks
