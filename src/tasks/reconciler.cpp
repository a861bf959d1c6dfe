#include "tasks/reconciler.hpp"

#include "core/logging.hpp"
#include "core/sleep.hpp"

namespace os::tasks {
namespace {
constexpr Millis kStopCheck{500};
constexpr Millis kErrorPause{2000};
}  // namespace

void describe_reconciler_metrics(Metrics& m) {
  m.describe("orders_reconciled_total", Metrics::Type::Counter,
             "Orders whose process_order task the reconciler enqueued again.");
  m.describe("orders_unprocessed_oldest_age_seconds", Metrics::Type::Gauge,
             "Age of the oldest order not processed yet (0 when none).");
}

awaitable<std::size_t> Reconciler::pass() {
  const std::function<awaitable<void>(const std::vector<db::InboxEvent>&)> enqueue =
      [this](const std::vector<db::InboxEvent>& due) -> awaitable<void> {
    std::vector<NewTask> tasks;
    for (const auto& o : due) {
      tasks.push_back(
          {o.order_id, o.event_id.empty() ? "reconcile:" + o.order_id : o.event_id, ""});
    }
    co_await queue_.enqueue_process_orders(tasks);
  };
  std::size_t total = 0;
  for (;;) {
    const auto n = co_await repository_.requeue_due(settings_.after, in_flight_,
                                                    settings_.batch_size, enqueue);
    total += n;
    if (n < static_cast<std::size_t>(settings_.batch_size)) break;
  }
  metrics_.set("orders_unprocessed_oldest_age_seconds", "",
               co_await repository_.oldest_unprocessed_age());
  co_await outbox_.report_backlog(metrics_);
  if (total > 0) {
    metrics_.add("orders_reconciled_total", "", static_cast<double>(total));
    log::warn("reconciler re-enqueued unprocessed orders",
              {{"orders", static_cast<std::int64_t>(total)},
               {"older_than_seconds", static_cast<std::int64_t>(settings_.after.count())}});
  }
  co_return total;
}

awaitable<void> Reconciler::run(const std::atomic<bool>& stopping) {
  log::info("reconciler started",
            {{"after_seconds", static_cast<std::int64_t>(settings_.after.count())},
             {"interval_seconds", static_cast<std::int64_t>(settings_.interval.count())}});
  while (!stopping) {
    Millis pause = settings_.interval;
    try {
      co_await pass();
      health_.all_up();
    } catch (...) {
      health_.down(classify(std::current_exception()));
      pause = std::min<Millis>(pause, kErrorPause);
    }
    const auto until = Clock::now() + pause;
    while (!stopping && Clock::now() < until) {
      co_await sleep_for(
          std::min(kStopCheck, std::chrono::duration_cast<Millis>(until - Clock::now())));
    }
  }
  log::info("reconciler stopped");
}

}  // namespace os::tasks
