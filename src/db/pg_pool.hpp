// PostgreSQL connections of one io thread, with the configured timeouts applied.
#pragma once
#include <functional>

#include "config/settings.hpp"
#include "core/connection_pool.hpp"
#include "db/pg_connection.hpp"

namespace os::db {

class PgPool {
 public:
  using Lease = ConnectionPool<PgConnection>::Lease;

  PgPool(asio::any_io_executor ex, config::PostgresSettings settings);

  // Throws PgUnavailable when no connection can be had within the connect timeout.
  awaitable<Lease> acquire() { return pool_.acquire<PgUnavailable>(); }

  // One prepared statement on any pooled connection.
  awaitable<PgResult> execute(const Statement& statement, const Params& params);
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
