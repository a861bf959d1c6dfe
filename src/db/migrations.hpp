// Versioned SQL migrations, embedded in the binary, applied under an advisory lock.
#pragma once
#include <string>
#include <vector>

#include "core/async.hpp"
#include "core/embedded.hpp"
#include "db/pg_connection.hpp"

namespace os::db {

// Applies pending migrations, each in its own transaction; returns how many ran.
// Throws when an applied migration's checksum no longer matches its file.
awaitable<int> migrate(PgConnection& conn);

}  // namespace os::db
