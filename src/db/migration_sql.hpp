// Migration files read as SQL statements: how the runner applies them and the rules every
// migration follows so that the release before it keeps working on the migrated schema
// (expand/contract; docs/architecture.md, "Schema changes").
//
// A file runs in one transaction unless its first line is the marker
//   -- migrate: no-transaction
// which CREATE INDEX CONCURRENTLY needs (it cannot run in a transaction block, nor in a
// query string of several statements): the runner then sends its statements one by one.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace os::db::migration_sql {

inline constexpr std::string_view kNoTransactionMarker = "-- migrate: no-transaction";

struct SqlStatement {
  std::string text;                 // as written (comments included), without the ';'
  std::vector<std::string> tokens;  // words upper-cased; a quoted literal is one token with
                                    // its quotes ('0', "Name"); a dollar-quoted body is "$$"
};

// Splits at the semicolons that end statements (not those in literals, quoted names,
// dollar-quoted bodies or comments); statements with no token are dropped.
std::vector<SqlStatement> split(std::string_view sql);

// True when the file's first line is kNoTransactionMarker.
bool runs_outside_transaction(std::string_view file_content);

// The index a CREATE INDEX CONCURRENTLY statement builds (lower-case), or "" for any other
// statement or an unnamed index.
std::string concurrent_index_name(const SqlStatement& statement);

struct Violation {
  std::string file;
  std::string rule;       // e.g. "index-without-concurrently"
  std::string statement;  // the statement's first tokens
  std::string why;
};

// The rules a migration follows, as violations of `content` (the file `name`), exemptions
// not applied:
//   drop, rename, truncate            nothing the previous release uses is removed or renamed
//   column-type, set-not-null         no column changes type or starts refusing NULL
//   not-null-without-default          a NOT NULL column is added with a default
//   volatile-default                  no default that rewrites the table (serial, random(), ...)
//   constraint-not-valid              CHECK / FOREIGN KEY on an existing table: NOT VALID
//   constraint-index                  UNIQUE / PRIMARY KEY / EXCLUDE only USING INDEX
//   index-without-concurrently        CREATE INDEX on an existing table: CONCURRENTLY
//   table-rewrite                     no VACUUM FULL, CLUSTER, REINDEX, SET TABLESPACE/LOGGED
//   lock-timeout-disabled             lock_timeout is never set to 0 (the runner sets one)
//   concurrently-in-transaction       CONCURRENTLY needs the no-transaction marker
//   no-transaction-statement          a no-transaction file holds only SET/RESET and index
//                                     builds (re-running it after a failure is then safe)
//   concurrent-index-not-rebuildable  each CREATE INDEX CONCURRENTLY x is preceded by
//                                     DROP INDEX CONCURRENTLY IF EXISTS x (an interrupted
//                                     build leaves x INVALID; the re-run must rebuild it)
// Tables created in the same file are new and empty: any change to them is allowed.
std::vector<Violation> check(std::string_view name, std::string_view content);

// Migrations allowed to break one rule, each with the reason.
struct Exemption {
  std::string_view file;
  std::string_view rule;
  std::string_view reason;
};
const std::vector<Exemption>& exemptions();

// check() without what exemptions() allows.
std::vector<Violation> check_with_exemptions(std::string_view name, std::string_view content);

}  // namespace os::db::migration_sql
