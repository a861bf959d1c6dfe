// What the reconciler needs from PostgreSQL: orders still unprocessed long after they
// were created, found through the partial index on unprocessed orders.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "db/inbox_repository.hpp"
#include "db/pg_pool.hpp"

namespace os::db {

class ReconcileRepository {
 public:
  explicit ReconcileRepository(PgPool& pool) : pool_(pool) {}

  // In one transaction, under a transaction-level advisory lock (copies running at once
  // take turns; one that finds the lock taken does nothing and returns 0): at most
  // `limit` orders, oldest first, created more than `after` ago and still unprocessed,
  // whose task was not enqueued within `in_flight` (by the consumer or a reconciler).
  // Records them as enqueued now and runs `enqueue` with them (order id, the event id the
  // inbox holds or empty) before committing; if `enqueue` throws, nothing is recorded.
  awaitable<std::size_t> requeue_due(
      std::chrono::milliseconds after, std::chrono::milliseconds in_flight, int limit,
      const std::function<awaitable<void>(const std::vector<domain::NewOrderEvent>&)>& enqueue);

  // Seconds since the oldest unprocessed order was created (0 when there is none).
  awaitable<double> oldest_unprocessed_age();

 private:
  PgPool& pool_;
};

}  // namespace os::db
