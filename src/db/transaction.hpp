// One transaction on one connection: BEGIN, the body, COMMIT. Used by the pool's
// in_transaction and by the migrations runner.
#pragma once
#include <functional>

#include "db/pg_connection.hpp"

namespace os::db {

// If `body` (or COMMIT) throws, ROLLBACK while the connection is still usable and rethrow
// the original exception; a failed ROLLBACK is left to the server, which rolls back when
// the caller drops the broken connection.
awaitable<void> in_transaction(PgConnection& conn, Millis timeout,
                               const std::function<awaitable<void>()>& body);

}  // namespace os::db
