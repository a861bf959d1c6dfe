#include "db/pg_pool.hpp"

#include "db/transaction.hpp"

namespace os::db {

PgPool::PgPool(asio::any_io_executor ex, config::PostgresSettings settings, Waiting waiting)
    : settings_(std::move(settings)),
      pool_(ex, settings_.pool_size, settings_.connect_timeout, [this, ex]() {
        return PgConnection::connect(ex, settings_.conninfo, settings_.connect_timeout);
      }) {
  if (waiting == Waiting::Bounded) {
    pool_.set_limits(static_cast<std::size_t>(settings_.pool_max_waiters), settings_.pool_max_wait,
                     Dependency::Postgres);
  }
}

awaitable<PgResult> PgPool::execute(const Statement& statement, const Params& params) {
  auto lease = co_await acquire();
  co_return co_await lease->execute(statement, params, settings_.query_timeout);
}

awaitable<PgResult> PgPool::execute_exempt(const Statement& statement, const Params& params) {
  auto lease = co_await pool_.acquire<PgUnavailable>(true);
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
  const std::function<awaitable<void>()> run = [&] { return body(conn); };
  co_await db::in_transaction(*conn, settings_.query_timeout, run);
}

}  // namespace os::db
