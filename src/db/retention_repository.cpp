#include "db/retention_repository.hpp"

namespace os::db {
namespace {
const Statement kInbox{"retention_inbox",
                       "DELETE FROM inbox_events WHERE event_id IN (SELECT event_id FROM"
                       " inbox_events WHERE received_at < now() - $1::int * interval '1 second'"
                       " ORDER BY received_at LIMIT $2::int)"};
const Statement kTaskRuns{"retention_task_runs",
                          "DELETE FROM task_runs WHERE id IN (SELECT id FROM task_runs"
                          " WHERE finished_at < now() - $1::int * interval '1 second'"
                          " ORDER BY finished_at LIMIT $2::int)"};
// Keys are honoured for 24 hours (SPEC); after that they are only dead weight.
const Statement kKeys{"retention_idempotency_keys",
                      "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key"
                      " FROM idempotency_keys WHERE created_at < now() - interval '24 hours'"
                      " ORDER BY created_at LIMIT $1::int)"};
}  // namespace

awaitable<Pruned> RetentionRepository::prune_batch(const config::RetentionSettings& s) {
  const auto batch = std::to_string(kBatch);
  Pruned p;
  p.inbox =
      (co_await pool_.execute(kInbox, params(std::to_string(s.inbox.count()), batch))).affected();
  p.task_runs =
      (co_await pool_.execute(kTaskRuns, params(std::to_string(s.task_runs.count()), batch)))
          .affected();
  p.idempotency_keys = (co_await pool_.execute(kKeys, params(batch))).affected();
  co_return p;
}

}  // namespace os::db
