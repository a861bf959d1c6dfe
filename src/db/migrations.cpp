#include "db/migrations.hpp"

#include <map>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "db/migration_sql.hpp"
#include "db/transaction.hpp"
#include "security/digest.hpp"

namespace os::db {
namespace {

constexpr auto kTimeout = Millis(10 * 60 * 1000);
// A CREATE INDEX CONCURRENTLY on a large table may take hours; it blocks no one meanwhile.
constexpr auto kIndexTimeout = Millis(24LL * 3600 * 1000);
// Arbitrary constant shared by every instance: "order-service migrations".
constexpr const char* kTryLock = "SELECT pg_try_advisory_lock(7283451902)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(7283451902)";
constexpr auto kLockPoll = Millis(250);

// Every migration runs with this lock_timeout (a file may raise it for itself): a DDL
// statement waiting for a lock queues every later query of its table behind it, so it
// gives up after 5 s instead, and the runner tries again after a pause.
constexpr const char* kLockTimeout = "5s";
constexpr int kLockAttempts = 8;
constexpr auto kLockRetryPause = Millis(2000);
constexpr const char* kLockNotAvailable = "55P03";
// Also tried again: a deadlock, e.g. with a previous release's api that starts with
// RUN_MIGRATIONS_ON_STARTUP and waits in pg_advisory_lock (holding a snapshot that CREATE
// INDEX CONCURRENTLY waits for). The server rolled the transaction back; a no-transaction
// file starts again from its first statement.
constexpr const char* kDeadlockDetected = "40P01";

const Statement kRecord{"migrations_record",
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)"};

// Waits for the migrations lock by polling with pg_try_advisory_lock rather than blocking
// in pg_advisory_lock: a session blocked there holds a snapshot, which CREATE INDEX
// CONCURRENTLY (run by the lock's holder) waits for; the two would deadlock.
awaitable<void> lock(PgConnection& conn) {
  const auto started = Clock::now();
  auto next_report = started + std::chrono::seconds(30);
  for (;;) {
    const auto r = co_await conn.query(kTryLock, kTimeout);
    if (r.boolean(0, 0)) co_return;
    if (Clock::now() >= next_report) {
      log::info(
          "waiting for another migrate to finish",
          {{"waited_s",
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()}});
      next_report += std::chrono::seconds(30);
    }
    co_await sleep_for(kLockPoll);
  }
}

// One statement at a time, outside a transaction (the file starts with the
// no-transaction marker). Each CREATE INDEX CONCURRENTLY is preceded by DROP INDEX
// CONCURRENTLY IF EXISTS of the same index (tests/unit/migration_rules_test.cpp), so a
// run interrupted anywhere is completed by running the file again from its start; the
// version is recorded only once every index it builds is valid.
awaitable<void> apply_outside_transaction(PgConnection& conn, const EmbeddedFile& file,
                                          const std::string& checksum) {
  co_await conn.query(std::string("SET lock_timeout = '") + kLockTimeout + "'", kTimeout);
  std::vector<std::string> indexes;
  for (const auto& statement : migration_sql::split(file.content)) {
    co_await conn.query(statement.text, kIndexTimeout);
    if (auto name = migration_sql::concurrent_index_name(statement); !name.empty()) {
      indexes.push_back(std::move(name));
    }
  }
  co_await conn.query("RESET lock_timeout", kTimeout);
  const Statement invalid{
      "migrations_invalid_indexes",
      "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
      " WHERE c.relname = ANY($1::text[]) AND c.relnamespace = current_schema()::regnamespace"
      " AND NOT (i.indisvalid AND i.indisready)"};
  const auto r = co_await conn.execute(invalid, params(array_literal(indexes)), kTimeout);
  if (r.rows() > 0) {
    throw std::runtime_error("migration " + std::string(file.name) + " left the index " +
                             std::string(r.text(0, 0)) + " invalid; run migrate again");
  }
  co_await conn.execute(kRecord, params(file.name, checksum), kTimeout);
}

awaitable<void> apply_in_transaction(PgConnection& conn, const EmbeddedFile& file,
                                     const std::string& checksum) {
  const std::function<awaitable<void>()> apply = [&]() -> awaitable<void> {
    co_await conn.query(std::string("SET LOCAL lock_timeout = '") + kLockTimeout + "'", kTimeout);
    co_await conn.query(file.content, kTimeout);
    co_await conn.execute(kRecord, params(file.name, checksum), kTimeout);
  };
  co_await in_transaction(conn, kTimeout, apply);
}

awaitable<int> apply_pending(PgConnection& conn) {
  co_await conn.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version TEXT PRIMARY KEY, checksum TEXT NOT NULL,"
      " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
      kTimeout);
  std::map<std::string, std::string> applied;
  const auto rows =
      co_await conn.query("SELECT version, checksum FROM schema_migrations", kTimeout);
  for (int i = 0; i < rows.rows(); ++i) {
    applied.emplace(std::string(rows.text(i, 0)), std::string(rows.text(i, 1)));
  }
  int count = 0;
  for (const auto& file : embedded_migrations()) {
    const auto checksum = security::sha256_hex(file.content);
    if (auto it = applied.find(file.name); it != applied.end()) {
      if (it->second != checksum) {
        throw std::runtime_error(std::string("migration ") + file.name +
                                 " was changed after it was applied (checksum mismatch)");
      }
      continue;
    }
    const bool outside = migration_sql::runs_outside_transaction(file.content);
    for (int attempt = 1;; ++attempt) {
      std::optional<PgError> lock_timeout;
      try {
        if (outside) {
          co_await apply_outside_transaction(conn, file, checksum);
        } else {
          co_await apply_in_transaction(conn, file, checksum);
        }
      } catch (const PgError& e) {
        const bool retry = e.sqlstate() == kLockNotAvailable || e.sqlstate() == kDeadlockDetected;
        if (!retry || attempt == kLockAttempts) throw;
        lock_timeout = e;
      }
      if (!lock_timeout) break;
      log::warn("migration gave up waiting for a lock; trying again",
                {{"version", file.name},
                 {"attempt", attempt},
                 {"lock_timeout", kLockTimeout},
                 {"error", lock_timeout->what()}});
      co_await sleep_for(kLockRetryPause * attempt);
    }
    log::info("migration applied",
              {{"version", file.name}, {"transaction", outside ? "none" : "one"}});
    ++count;
  }
  co_return count;
}

}  // namespace

awaitable<int> migrate(PgConnection& conn) {
  // Session-level lock: on error the caller drops the connection, which releases it.
  co_await lock(conn);
  const int count = co_await apply_pending(conn);
  co_await conn.query(kUnlock, kTimeout);
  co_return count;
}

}  // namespace os::db
