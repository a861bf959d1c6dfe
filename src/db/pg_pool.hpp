// PostgreSQL connections of one io thread, with the configured timeouts applied.
#pragma once
#include <functional>

#include "config/settings.hpp"
#include "core/connection_pool.hpp"
#include "db/pg_connection.hpp"

namespace os::db {

// Whether callers that find every connection leased wait in a bounded queue: the api's
// pools (POSTGRES_POOL_MAX_WAITERS, POSTGRES_POOL_MAX_WAIT_SECONDS; a refusal is an
// Overloaded, answered 503 at once), or for up to the connect timeout (background roles,
// whose few callers are bounded by their own concurrency settings).
enum class Waiting { Bounded, Unbounded };

class PgPool {
 public:
  using Lease = ConnectionPool<PgConnection>::Lease;

  PgPool(asio::any_io_executor ex, config::PostgresSettings settings,
         Waiting waiting = Waiting::Unbounded);

  // Throws PgUnavailable when no connection can be had within the connect timeout, or
  // Overloaded (Waiting::Bounded) when the queue for one is full or the wait too long.
  awaitable<Lease> acquire() { return pool_.acquire<PgUnavailable>(); }

  // One prepared statement on any pooled connection.
  awaitable<PgResult> execute(const Statement& statement, const Params& params);
  // The same for a readiness probe: never refused by the queue bound, first in the queue.
  awaitable<PgResult> execute_exempt(const Statement& statement, const Params& params);
  // Statement or plain SQL on a leased connection, with the query timeout.
  awaitable<PgResult> execute(Lease& lease, const Statement& statement, const Params& params);
  awaitable<PgResult> query(Lease& lease, std::string_view sql);

  // BEGIN, `body` on the leased connection, COMMIT; ROLLBACK and rethrow if `body` throws.
  awaitable<void> in_transaction(const std::function<awaitable<void>(Lease&)>& body);

  awaitable<void> warm_up(int count) { return pool_.warm_up(count); }

  const config::PostgresSettings& settings() const { return settings_; }

 private:
  config::PostgresSettings settings_;
  ConnectionPool<PgConnection> pool_;
};

}  // namespace os::db
