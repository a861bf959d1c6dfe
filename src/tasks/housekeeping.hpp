// Housekeeping, a duty of its own (run by the reconcile role): every
// HOUSEKEEPING_INTERVAL_SECONDS it prunes each table that grows with the orders past its
// retention (db/retention_repository.hpp), one batch loop for all of them, and reports the
// tables' sizes and the outbox backlog on /metrics.
//
// Capacity: a pass deletes batches of RETENTION_BATCH_SIZE until a table has no more rows
// past their age (or the pass has run for one interval, so the gauges stay fresh), so it
// keeps up with whatever rate the tables grow at, up to the database's delete speed
// (docs/benchmarks.md: many times the pipeline's highest sustained rate).
#pragma once
#include <array>

#include "config/settings.hpp"
#include "core/dependency_health.hpp"
#include "core/metrics.hpp"
#include "db/outbox_repository.hpp"
#include "db/retention_repository.hpp"

namespace os::tasks {

class Housekeeper {
 public:
  Housekeeper(const config::RetentionSettings& settings, db::RetentionRepository& retention,
              db::OutboxRepository& outbox, Metrics& metrics)
      : settings_(settings), retention_(retention), outbox_(outbox), metrics_(metrics) {}

  // Until stopped (core/supervisor.hpp): a pass every HOUSEKEEPING_INTERVAL_SECONDS.
  awaitable<void> run();
  // One pass; returns the rows deleted per table (in db::kRetainedTables' order).
  awaitable<std::array<std::int64_t, db::kRetainedTables.size()>> pass();

 private:
  std::chrono::milliseconds keep(db::RetainedTable table) const;

  const config::RetentionSettings& settings_;
  db::RetentionRepository& retention_;
  db::OutboxRepository& outbox_;
  Metrics& metrics_;
  DependencyHealth health_{"housekeeping"};
};

void describe_housekeeping_metrics(Metrics& metrics);

}  // namespace os::tasks
