// Retention of every table that grows with the orders: published outbox rows, the
// consumer's inbox, the record of task runs, expired idempotency keys and the
// reconciler's enqueue marks. One statement deletes at most one batch of a table's oldest
// rows past their age, through the table's time index, and skips rows another
// housekeeper has locked, so any number of them share the work and no long transaction
// ever forms.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "db/pg_pool.hpp"

namespace os::db {

enum class RetainedTable { Outbox, Inbox, TaskRuns, IdempotencyKeys, ReconcileMarks };

inline constexpr std::array kRetainedTables{RetainedTable::Outbox, RetainedTable::Inbox,
                                            RetainedTable::TaskRuns, RetainedTable::IdempotencyKeys,
                                            RetainedTable::ReconcileMarks};

// The table's SQL name (also its metrics label).
std::string_view table_name(RetainedTable table);

// What /metrics shows of a table: the planner's row estimate (pg_class.reltuples; 0 before
// the first ANALYZE) and the age of its oldest row by the column retention goes by.
struct TableSize {
  RetainedTable table;
  double rows_estimate = 0;
  double oldest_age_seconds = 0;
};

class RetentionRepository {
 public:
  explicit RetentionRepository(PgPool& pool) : pool_(pool) {}

  // Deletes up to `batch` rows of `table` older than `keep`; returns how many it deleted.
  awaitable<std::int64_t> prune_batch(RetainedTable table, std::chrono::milliseconds keep,
                                      int batch);
  awaitable<std::array<TableSize, kRetainedTables.size()>> sizes();

 private:
  PgPool& pool_;
};

}  // namespace os::db
