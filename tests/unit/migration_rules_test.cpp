// The expand/contract rules every migration follows (docs/architecture.md, "Schema
// changes"), checked on the migrations embedded in the binary: the CI check.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/embedded.hpp"
#include "db/migration_sql.hpp"

using namespace os::db::migration_sql;

namespace {
std::set<std::string> rules(std::string_view sql, std::string_view name = "9999_test.sql") {
  std::set<std::string> out;
  for (const auto& v : check(name, sql)) out.insert(v.rule);
  return out;
}

std::string describe(const std::vector<Violation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    out += v.file + ": " + v.rule + ": " + v.statement + "\n    " + v.why + "\n";
  }
  return out;
}
}  // namespace

TEST(MigrationRules, EveryMigrationFollowsThem) {
  ASSERT_GE(os::embedded_migrations().size(), 8U);
  for (const auto& file : os::embedded_migrations()) {
    const auto violations = check_with_exemptions(file.name, file.content);
    EXPECT_TRUE(violations.empty()) << describe(violations);
  }
}

TEST(MigrationRules, EachExemptionIsNeededAndNamesAFile) {
  // An exemption that no longer matches anything is removed, not left to cover a new file.
  for (const auto& e : exemptions()) {
    const auto& files = os::embedded_migrations();
    const auto file =
        std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.name == e.file; });
    ASSERT_NE(file, files.end()) << e.file;
    EXPECT_EQ(rules(file->content, file->name).count(std::string(e.rule)), 1U)
        << e.file << " does not break " << e.rule << ": drop the exemption";
    EXPECT_FALSE(e.reason.empty());
  }
}

TEST(MigrationRules, TheExistingNonConcurrentIndexesAreFound) {
  // Without their exemption, 0003 and 0004 fail: the check reads what it should.
  const auto& files = os::embedded_migrations();
  for (const char* name : {"0003_reliability.sql", "0004_retention.sql"}) {
    const auto file = std::find_if(files.begin(), files.end(),
                                   [&](const auto& f) { return f.name == std::string(name); });
    ASSERT_NE(file, files.end());
    EXPECT_EQ(rules(file->content, name), std::set<std::string>{"index-without-concurrently"})
        << name;
  }
}

TEST(MigrationRules, ExpandIsAllowed) {
  EXPECT_EQ(rules(R"sql(
    -- a comment with DROP TABLE orders; in it
    CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE INDEX widgets_name_idx ON widgets (name);          -- a new, empty table
    ALTER TABLE widgets ADD COLUMN size INT NOT NULL;
    ALTER TABLE orders ADD COLUMN note TEXT;
    ALTER TABLE orders ADD COLUMN IF NOT EXISTS priority INT NOT NULL DEFAULT 0;
    ALTER TABLE orders ADD COLUMN seen_at TIMESTAMPTZ DEFAULT now();
    ALTER TABLE orders ADD CONSTRAINT positive CHECK (total_price > 0) NOT VALID;
    ALTER TABLE orders VALIDATE CONSTRAINT positive;
    ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'none; really';
    ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'REFUNDED';
    SET LOCAL lock_timeout = '30s';
    CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN DROP TABLE orders; RETURN NULL; END; $body$;
    COMMENT ON COLUMN orders.note IS 'DROP COLUMN note';
  )sql"),
            std::set<std::string>{});
}

TEST(MigrationRules, ContractAndLockingChangesAreRefused) {
  const std::pair<const char*, const char*> cases[] = {
      {"DROP TABLE orders", "drop"},
      {"DROP INDEX orders_unprocessed_idx", "drop"},
      {"ALTER TABLE orders DROP COLUMN processed_at", "drop"},
      {"ALTER TABLE public.orders DROP CONSTRAINT orders_pkey", "drop"},
      {"ALTER TABLE orders ALTER COLUMN status DROP DEFAULT", "drop"},
      {"ALTER TABLE orders RENAME COLUMN items TO lines", "rename"},
      {"ALTER TABLE orders RENAME TO purchases", "rename"},
      {"ALTER INDEX orders_user_created_idx RENAME TO x", "rename"},
      {"ALTER TYPE order_status RENAME VALUE 'PAID' TO 'SETTLED'", "rename"},
      {"TRUNCATE task_runs", "truncate"},
      {"ALTER TABLE orders ALTER COLUMN total_price TYPE NUMERIC(20, 2)", "column-type"},
      {"ALTER TABLE orders ALTER total_price SET DATA TYPE NUMERIC(20, 2)", "column-type"},
      {"ALTER TABLE orders ALTER COLUMN processed_at SET NOT NULL", "set-not-null"},
      {"ALTER TABLE orders ADD COLUMN region TEXT NOT NULL", "not-null-without-default"},
      {"ALTER TABLE orders ADD COLUMN n BIGSERIAL", "volatile-default"},
      {"ALTER TABLE orders ADD COLUMN token UUID DEFAULT gen_random_uuid()", "volatile-default"},
      {"ALTER TABLE orders ADD COLUMN r FLOAT8 NOT NULL DEFAULT random()", "volatile-default"},
      {"ALTER TABLE orders ADD COLUMN g INT GENERATED ALWAYS AS (1) STORED", "volatile-default"},
      {"ALTER TABLE orders ADD CONSTRAINT c CHECK (total_price < 1e9)", "constraint-not-valid"},
      {"ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)",
       "constraint-not-valid"},
      {"ALTER TABLE orders ADD CONSTRAINT u UNIQUE (user_id, created_at)", "constraint-index"},
      {"ALTER TABLE orders ADD COLUMN code TEXT UNIQUE", "constraint-index"},
      {"CREATE INDEX orders_status_idx ON orders (status)", "index-without-concurrently"},
      {"CREATE UNIQUE INDEX IF NOT EXISTS x ON ONLY public.orders (id)",
       "index-without-concurrently"},
      {"CREATE INDEX ON orders (status)", "index-without-concurrently"},
      {"CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status)",
       "concurrently-in-transaction"},
      {"VACUUM FULL orders", "table-rewrite"},
      {"CLUSTER orders USING orders_pkey", "table-rewrite"},
      {"REINDEX TABLE orders", "table-rewrite"},
      {"ALTER TABLE orders SET TABLESPACE slow", "table-rewrite"},
      {"SET lock_timeout = 0", "lock-timeout-disabled"},
      {"SET LOCAL lock_timeout TO '0s'", "lock-timeout-disabled"},
      {"SET lock_timeout = DEFAULT", "lock-timeout-disabled"},
      {"RESET lock_timeout", "lock-timeout-disabled"},
  };
  for (const auto& [sql, rule] : cases) {
    EXPECT_EQ(rules(std::string(sql) + ";").count(rule), 1U) << sql << " -> " << rule;
  }
  // Several actions in one ALTER TABLE: each is checked.
  EXPECT_EQ(rules("ALTER TABLE orders ADD COLUMN a TEXT, DROP COLUMN items;"),
            std::set<std::string>{"drop"});
}

TEST(MigrationRules, NoTransactionFilesHoldOnlyRebuildableIndexBuilds) {
  const std::string marker = std::string(kNoTransactionMarker) + "\n";
  EXPECT_EQ(rules(marker + R"sql(
    SET lock_timeout = '10s';
    DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;
    CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
    DROP INDEX CONCURRENTLY IF EXISTS public.orders_note_idx;
    CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS orders_note_idx ON orders (note);
  )sql"),
            std::set<std::string>{});
  // Without the DROP, an INVALID index left by an interrupted build would stay.
  EXPECT_EQ(rules(marker + "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON orders (status);"),
            std::set<std::string>{"concurrent-index-not-rebuildable"});
  EXPECT_EQ(rules(marker + "CREATE INDEX CONCURRENTLY ON orders (status);"),
            std::set<std::string>{"concurrent-index-not-rebuildable"});
  // Dropping an index it does not build again is a drop.
  EXPECT_EQ(rules(marker + "DROP INDEX CONCURRENTLY IF EXISTS orders_user_created_idx;"),
            std::set<std::string>{"drop"});
  // Anything else belongs in a transactional file.
  EXPECT_EQ(rules(marker + "ALTER TABLE orders ADD COLUMN note TEXT;"),
            std::set<std::string>{"no-transaction-statement"});
  // The marker counts only as the first line.
  EXPECT_FALSE(runs_outside_transaction("-- hello\n" + marker));
  EXPECT_TRUE(runs_outside_transaction(std::string(kNoTransactionMarker)));
  EXPECT_TRUE(runs_outside_transaction(std::string(kNoTransactionMarker) + "  \r\nSELECT 1;"));
}

TEST(MigrationSql, SplitsAtStatementEndsOnly) {
  const auto statements = split(R"sql(
    -- leading comment; not a statement
    INSERT INTO t VALUES ('a;b', E'it\'s; fine', "odd;name");
    /* block; /* nested; */ still comment */ SELECT $$ ; $$, $tag$ ; $$ ; $tag$, $1;
    CREATE INDEX CONCURRENTLY "Mixed" ON orders (status)
  )sql");
  ASSERT_EQ(statements.size(), 3U);
  EXPECT_EQ(statements[0].tokens.front(), "INSERT");
  EXPECT_NE(std::find(statements[0].tokens.begin(), statements[0].tokens.end(), "'a;b'"),
            statements[0].tokens.end());
  EXPECT_EQ(statements[1].tokens,
            (std::vector<std::string>{"SELECT", "$$", ",", "$$", ",", "$", "1"}));
  EXPECT_EQ(concurrent_index_name(statements[2]), "Mixed");
  EXPECT_EQ(statements[2].text.rfind("CREATE INDEX", 0), 0U);
  EXPECT_EQ(concurrent_index_name(split("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "
                                        "public.Abc ON t (a)")[0]),
            "abc");
  EXPECT_EQ(concurrent_index_name(split("CREATE INDEX abc ON t (a)")[0]), "");
}
