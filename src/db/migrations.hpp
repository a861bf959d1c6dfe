// Versioned SQL migrations, embedded in the binary, applied under an advisory lock.
#pragma once
#include <string>
#include <vector>

#include "core/async.hpp"
#include "core/embedded.hpp"
#include "db/pg_connection.hpp"

namespace os::db {

// Applies pending migrations in name order under a session advisory lock (one migrate at
// a time), each in its own transaction, or statement by statement when its first line is
// "-- migrate: no-transaction" (db/migration_sql.hpp); each with lock_timeout = 5 s, tried
// again after a pause (8 attempts) when it times out waiting for a lock or deadlocks. Returns how
// many ran. Throws when an applied migration's checksum no longer matches its file.
awaitable<int> migrate(PgConnection& conn);

}  // namespace os::db
