#include "db/retention_repository.hpp"

#include <cstdlib>

namespace os::db {
namespace {

// $1: age in seconds (fractions allowed), $2: batch size.
const Statement kPruneOutbox{"retention_outbox",
                             "DELETE FROM outbox_events WHERE id IN (SELECT id FROM outbox_events"
                             " WHERE published_at < now() - $1::float8 * interval '1 second'"
                             " ORDER BY published_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"};
const Statement kPruneInbox{
    "retention_inbox",
    "DELETE FROM inbox_events WHERE event_id IN (SELECT event_id FROM inbox_events"
    " WHERE received_at < now() - $1::float8 * interval '1 second'"
    " ORDER BY received_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"};
const Statement kPruneTaskRuns{"retention_task_runs",
                               "DELETE FROM task_runs WHERE id IN (SELECT id FROM task_runs"
                               " WHERE finished_at < now() - $1::float8 * interval '1 second'"
                               " ORDER BY finished_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"};
const Statement kPruneKeys{
    "retention_idempotency_keys",
    "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key"
    " FROM idempotency_keys WHERE created_at < now() - $1::float8 * interval '1 second'"
    " ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"};
// Small (at most the orders the reconciler re-enqueued within its window): no index.
const Statement kPruneMarks{
    "retention_reconcile_enqueues",
    "DELETE FROM reconcile_enqueues WHERE order_id IN (SELECT order_id FROM reconcile_enqueues"
    " WHERE enqueued_at < now() - $1::float8 * interval '1 second'"
    " LIMIT $2::int FOR UPDATE SKIP LOCKED)"};

const Statement& prune_statement(RetainedTable table) {
  switch (table) {
    case RetainedTable::Outbox:
      return kPruneOutbox;
    case RetainedTable::Inbox:
      return kPruneInbox;
    case RetainedTable::TaskRuns:
      return kPruneTaskRuns;
    case RetainedTable::IdempotencyKeys:
      return kPruneKeys;
    case RetainedTable::ReconcileMarks:
      break;
  }
  return kPruneMarks;
}

// One row per table, in kRetainedTables' order. The oldest row by each table's retention
// column, through its index (the outbox's: published rows; unpublished ones have their
// own gauge, outbox_oldest_age_seconds).
const Statement kSizes{
    "retention_sizes",
    "SELECT greatest(c.reltuples, 0)::float8, coalesce(extract(epoch FROM now() - t.oldest), "
    "0)::float8"
    " FROM (VALUES"
    "  (1, 'outbox_events', (SELECT min(published_at) FROM outbox_events WHERE published_at IS NOT "
    "NULL)),"
    "  (2, 'inbox_events', (SELECT min(received_at) FROM inbox_events)),"
    "  (3, 'task_runs', (SELECT min(finished_at) FROM task_runs)),"
    "  (4, 'idempotency_keys', (SELECT min(created_at) FROM idempotency_keys)),"
    "  (5, 'reconcile_enqueues', (SELECT min(enqueued_at) FROM reconcile_enqueues))"
    " ) AS t(n, name, oldest) JOIN pg_class c ON c.oid = to_regclass(t.name)"
    " ORDER BY t.n"};

std::string seconds_text(std::chrono::milliseconds d) {
  return std::to_string(static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

std::string_view table_name(RetainedTable table) {
  switch (table) {
    case RetainedTable::Outbox:
      return "outbox_events";
    case RetainedTable::Inbox:
      return "inbox_events";
    case RetainedTable::TaskRuns:
      return "task_runs";
    case RetainedTable::IdempotencyKeys:
      return "idempotency_keys";
    case RetainedTable::ReconcileMarks:
      break;
  }
  return "reconcile_enqueues";
}

awaitable<std::int64_t> RetentionRepository::prune_batch(RetainedTable table,
                                                         std::chrono::milliseconds keep,
                                                         int batch) {
  const auto r = co_await pool_.execute(prune_statement(table),
                                        params(seconds_text(keep), std::to_string(batch)));
  co_return r.affected();
}

awaitable<std::array<TableSize, kRetainedTables.size()>> RetentionRepository::sizes() {
  const auto r = co_await pool_.execute(kSizes, Params{});
  std::array<TableSize, kRetainedTables.size()> out{};
  for (std::size_t i = 0; i < kRetainedTables.size(); ++i) {
    out[i].table = kRetainedTables[i];
    if (static_cast<int>(i) < r.rows()) {
      out[i].rows_estimate =
          std::strtod(std::string(r.text(static_cast<int>(i), 0)).c_str(), nullptr);
      out[i].oldest_age_seconds =
          std::strtod(std::string(r.text(static_cast<int>(i), 1)).c_str(), nullptr);
    }
  }
  co_return out;
}

}  // namespace os::db
