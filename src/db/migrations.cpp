#include "db/migrations.hpp"

#include <map>

#include "core/logging.hpp"
#include "db/transaction.hpp"
#include "security/digest.hpp"

namespace os::db {
namespace {

constexpr auto kTimeout = Millis(10 * 60 * 1000);
// Arbitrary constant shared by every instance: "order-service migrations".
constexpr const char* kLock = "SELECT pg_advisory_lock(7283451902)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock(7283451902)";

const Statement kRecord{"migrations_record",
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)"};

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
    const std::function<awaitable<void>()> apply = [&]() -> awaitable<void> {
      co_await conn.query(file.content, kTimeout);
      co_await conn.execute(kRecord, params(file.name, checksum), kTimeout);
    };
    co_await in_transaction(conn, kTimeout, apply);
    log::info("migration applied", {{"version", file.name}});
    ++count;
  }
  co_return count;
}

}  // namespace

awaitable<int> migrate(PgConnection& conn) {
  // Session-level lock: on error the caller drops the connection, which releases it.
  co_await conn.query(kLock, kTimeout);
  const int count = co_await apply_pending(conn);
  co_await conn.query(kUnlock, kTimeout);
  co_return count;
}

}  // namespace os::db
