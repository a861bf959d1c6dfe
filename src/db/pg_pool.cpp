#include "db/pg_pool.hpp"

namespace os::db {

PgPool::PgPool(asio::any_io_executor ex, config::PostgresSettings settings)
    : settings_(std::move(settings)),
      pool_(ex, settings_.pool_size, settings_.connect_timeout, [this, ex]() {
        return PgConnection::connect(ex, settings_.conninfo, settings_.connect_timeout);
      }) {}

awaitable<PgResult> PgPool::execute(const Statement& statement, const Params& params) {
  auto lease = co_await acquire();
  co_return co_await lease->execute(statement, params, settings_.query_timeout);
}

awaitable<PgResult> PgPool::execute(Lease& lease, const Statement& statement,
                                    const Params& params) {
  co_return co_await lease->execute(statement, params, settings_.query_timeout);
}

awaitable<PgResult> PgPool::query(Lease& lease, std::string_view sql) {
  co_return co_await lease->query(sql, settings_.query_timeout);
}

awaitable<void> PgPool::in_transaction(const std::function<awaitable<void>(Lease&)>& body) {
  auto conn = co_await acquire();
  co_await query(conn, "BEGIN");
  std::exception_ptr error;
  try {
    co_await body(conn);
    co_await query(conn, "COMMIT");
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    if (!conn->broken()) {
      try {
        co_await query(conn, "ROLLBACK");
      } catch (...) {
        // the connection is dropped by the pool; the server rolls back on its own
      }
    }
    std::rethrow_exception(error);
  }
}

}  // namespace os::db
