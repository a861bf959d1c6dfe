// Retention of what grows with every order besides the outbox: the consumer's inbox,
// the record of task runs and expired idempotency keys. Pruned in bounded batches (one
// statement deletes at most kBatch rows, through the tables' time indexes), so a large
// backlog never makes one long transaction.
#pragma once
#include <chrono>
#include <cstdint>

#include "config/settings.hpp"
#include "db/pg_pool.hpp"

namespace os::db {

struct Pruned {
  std::int64_t inbox = 0, task_runs = 0, idempotency_keys = 0;
  std::int64_t total() const { return inbox + task_runs + idempotency_keys; }
};

class RetentionRepository {
 public:
  static constexpr int kBatch = 1000;
  explicit RetentionRepository(PgPool& pool) : pool_(pool) {}

  // One batch per table. An inbox row older than its retention only guards against a
  // redelivery that late, which process_order's idempotence also covers.
  awaitable<Pruned> prune_batch(const config::RetentionSettings& settings);

 private:
  PgPool& pool_;
};

}  // namespace os::db
