#include "tasks/housekeeping.hpp"

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "core/supervisor.hpp"

namespace os::tasks {

void describe_housekeeping_metrics(Metrics& m) {
  m.describe("table_rows_estimate", Metrics::Type::Gauge,
             "Rows of each table that retention prunes (the planner's estimate).");
  m.describe("table_oldest_row_age_seconds", Metrics::Type::Gauge,
             "Age of the oldest row of each table that retention prunes, by its retention column.");
  m.describe("retention_pruned_rows_total", Metrics::Type::Counter,
             "Rows deleted by retention, by table.");
  m.describe("outbox_backlog", Metrics::Type::Gauge, "Unpublished outbox events.");
  m.describe("outbox_oldest_age_seconds", Metrics::Type::Gauge,
             "Age of the oldest unpublished outbox event.");
}

std::chrono::milliseconds Housekeeper::keep(db::RetainedTable table) const {
  switch (table) {
    case db::RetainedTable::Outbox:
      return settings_.outbox;
    case db::RetainedTable::Inbox:
      return settings_.inbox;
    case db::RetainedTable::TaskRuns:
      return settings_.task_runs;
    case db::RetainedTable::IdempotencyKeys:
      return settings_.idempotency_keys;
    case db::RetainedTable::ReconcileMarks:
      break;
  }
  return settings_.reconcile_marks;
}

awaitable<std::array<std::int64_t, db::kRetainedTables.size()>> Housekeeper::pass() {
  std::array<std::int64_t, db::kRetainedTables.size()> pruned{};
  const auto budget_end = Clock::now() + settings_.interval;
  for (std::size_t i = 0; i < db::kRetainedTables.size(); ++i) {
    const auto table = db::kRetainedTables[i];
    for (;;) {
      const auto n = co_await retention_.prune_batch(table, keep(table), settings_.batch_size);
      pruned[i] += n;
      if (n < settings_.batch_size || Clock::now() >= budget_end) break;
      const bool stopping = co_await stop_requested();
      if (stopping) co_return pruned;
    }
    if (pruned[i] > 0) {
      metrics_.add("retention_pruned_rows_total", label("table", db::table_name(table)),
                   static_cast<double>(pruned[i]));
      log::info("pruned old rows",
                {{"table", std::string(db::table_name(table))}, {"rows", pruned[i]}});
    }
  }
  for (const auto& size : co_await retention_.sizes()) {
    const auto table = label("table", db::table_name(size.table));
    metrics_.set("table_rows_estimate", table, size.rows_estimate);
    metrics_.set("table_oldest_row_age_seconds", table, size.oldest_age_seconds);
  }
  co_await outbox_.report_backlog(metrics_);
  co_return pruned;
}

awaitable<void> Housekeeper::run() {
  const auto interval = std::chrono::duration_cast<Millis>(settings_.interval);
  log::info("housekeeping started", {{"interval_ms", static_cast<std::int64_t>(interval.count())},
                                     {"batch", settings_.batch_size}});
  DutyLoop loop{.duty = "housekeeping",
                .pass = [this, interval]() -> awaitable<void> {
                  co_await pass();
                  co_await sleep_for(interval);
                },
                .retry = {.base = Millis(500),
                          .cap = std::max(Millis(500), std::min(interval, Millis(5000)))}};
  co_await supervise(std::move(loop), health_);
}

}  // namespace os::tasks
