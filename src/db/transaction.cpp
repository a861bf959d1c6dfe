#include "db/transaction.hpp"

namespace os::db {

awaitable<void> in_transaction(PgConnection& conn, Millis timeout,
                               const std::function<awaitable<void>()>& body) {
  co_await conn.query("BEGIN", timeout);
  std::exception_ptr error;
  try {
    co_await body();
    co_await conn.query("COMMIT", timeout);
  } catch (...) {
    error = std::current_exception();
  }
  if (!error) co_return;
  if (!conn.broken()) {
    try {
      co_await conn.query("ROLLBACK", timeout);
    } catch (...) {
      // the connection is dropped by its owner; the server rolls back on its own
    }
  }
  std::rethrow_exception(error);
}

}  // namespace os::db
