#include "db/migration_sql.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <iterator>
#include <set>

namespace os::db::migration_sql {
namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The end of the quoted text that starts at `i` (on the opening quote): one past the
// closing quote. A doubled quote is part of the text; with `backslashes` (E'...'), so is
// a quote after a backslash.
std::size_t skip_quoted(std::string_view sql, std::size_t i, char quote, bool backslashes) {
  for (++i; i < sql.size(); ++i) {
    if (backslashes && sql[i] == '\\') {
      ++i;
    } else if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) {
        ++i;
      } else {
        return i + 1;
      }
    }
  }
  return sql.size();
}

// At `i` on a '$': the delimiter of a dollar quote ($$ or $tag$), or "" when it is not one
// ($1 is a parameter).
std::string_view dollar_delimiter(std::string_view sql, std::size_t i) {
  std::size_t j = i + 1;
  if (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) return {};
  while (j < sql.size() && word_char(sql[j])) ++j;
  if (j < sql.size() && sql[j] == '$') return sql.substr(i, j + 1 - i);
  return {};
}

// Table and index names as compared by the rules: lower-case, unquoted, without "public.".
std::string object_name(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c != '"') out += c;
  }
  if (token.empty() || token.front() != '"') out = lower(out);
  if (out.rfind("public.", 0) == 0) out.erase(0, 7);
  return out;
}

using Tokens = std::vector<std::string>;

bool at(const Tokens& t, std::size_t i, std::initializer_list<std::string_view> words) {
  for (const auto w : words) {
    if (i >= t.size() || t[i] != w) return false;
    ++i;
  }
  return true;
}

bool contains(const Tokens& t, std::initializer_list<std::string_view> words) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (at(t, i, words)) return true;
  }
  return false;
}

bool contains_any(const Tokens& t, std::size_t from,
                  std::initializer_list<std::string_view> words) {
  for (std::size_t i = from; i < t.size(); ++i) {
    for (const auto w : words) {
      if (t[i] == w) return true;
    }
  }
  return false;
}

std::string excerpt(const Tokens& t) {
  std::string out;
  for (std::size_t i = 0; i < t.size() && i < 14; ++i) {
    if (!out.empty()) out += ' ';
    out += t[i];
  }
  if (t.size() > 14) out += " ...";
  return out;
}

// The actions of an ALTER TABLE: its tokens from `from`, split at top-level commas.
std::vector<Tokens> actions(const Tokens& t, std::size_t from) {
  std::vector<Tokens> out(1);
  int depth = 0;
  for (std::size_t i = from; i < t.size(); ++i) {
    if (t[i] == "(") ++depth;
    if (t[i] == ")") --depth;
    if (t[i] == "," && depth == 0) {
      out.emplace_back();
    } else {
      out.back().push_back(t[i]);
    }
  }
  return out;
}

// A default that PostgreSQL must compute per existing row (it rewrites the table under an
// ACCESS EXCLUSIVE lock); a constant or a stable function (now()) is stored once instead.
constexpr std::string_view kVolatileFunctions[] = {
    "RANDOM",           "GEN_RANDOM_UUID",    "UUID_GENERATE_V1", "UUID_GENERATE_V1MC",
    "UUID_GENERATE_V4", "CLOCK_TIMESTAMP",    "TIMEOFDAY",        "NEXTVAL",
    "TXID_CURRENT",     "PG_CURRENT_XACT_ID", "UUIDV7",           "UUID_GENERATE_V7"};
constexpr std::string_view kSerialTypes[] = {"SERIAL",  "SERIAL2",     "SERIAL4",
                                             "SERIAL8", "SMALLSERIAL", "BIGSERIAL"};

bool disables_lock_timeout(const Tokens& t) {
  if (t.empty()) return false;
  if (t[0] == "RESET") return contains_any(t, 1, {"LOCK_TIMEOUT", "ALL"});
  if (t[0] != "SET") return false;
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (t[i] != "LOCK_TIMEOUT") continue;
    if (i + 2 >= t.size()) return false;
    const auto& v = t[i + 2];  // after '=' or TO
    if (v == "DEFAULT") return true;
    std::string digits;
    for (char c : v) {
      if (std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.') digits += c;
    }
    return !digits.empty() && std::stod(digits) == 0;
  }
  return false;
}

class Checker {
 public:
  Checker(std::string_view name, std::string_view content)
      : file_(name), no_transaction_(runs_outside_transaction(content)) {
    for (auto& s : split(content)) statements_.push_back(std::move(s.tokens));
  }

  std::vector<Violation> run() {
    for (const auto& t : statements_) {
      if (t.empty()) continue;
      if (disables_lock_timeout(t)) {
        add("lock-timeout-disabled", t,
            "the runner sets lock_timeout for every migration; a migration may raise it, never "
            "turn it off (a DDL statement queued behind a long transaction blocks every "
            "query of the table behind it)");
      }
      if (no_transaction_) {
        no_transaction_statement(t);
      } else {
        statement(t);
      }
    }
    for (const auto& name : dropped_) {
      if (!rebuilt_.count(name)) {
        add("drop", {"DROP", "INDEX", "CONCURRENTLY", "IF", "EXISTS", name},
            "drops an index this file does not build again");
      }
    }
    return std::move(out_);
  }

 private:
  void add(std::string rule, const Tokens& t, std::string why) {
    out_.push_back(Violation{file_, std::move(rule), excerpt(t), std::move(why)});
  }

  // A file run statement by statement outside a transaction: only what can be re-run from
  // the start after a failure anywhere.
  void no_transaction_statement(const Tokens& t) {
    if (t[0] == "SET" || t[0] == "RESET") return;
    if (at(t, 0, {"DROP", "INDEX", "CONCURRENTLY", "IF", "EXISTS"}) && t.size() == 6) {
      dropped_.insert(object_name(t[5]));
      return;
    }
    const std::size_t index = at(t, 1, {"UNIQUE"}) ? 2 : 1;
    if (t[0] == "CREATE" && at(t, index, {"INDEX", "CONCURRENTLY"})) {
      const auto name = concurrent_index_name(SqlStatement{"", t});
      if (name.empty() || !dropped_.count(name)) {
        add("concurrent-index-not-rebuildable", t,
            "an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind; precede "
            "it with DROP INDEX CONCURRENTLY IF EXISTS <the same name> so that the re-run "
            "builds it again");
      }
      rebuilt_.insert(name);
      return;
    }
    add("no-transaction-statement", t,
        "a no-transaction migration holds only SET and CREATE/DROP INDEX CONCURRENTLY, so "
        "that re-running it after a failure half-way is safe; put the rest in another file");
  }

  void statement(const Tokens& t) {
    if (contains(t, {"CONCURRENTLY"})) {
      add("concurrently-in-transaction", t,
          "CONCURRENTLY cannot run in a transaction: start the file with the line '" +
              std::string(kNoTransactionMarker) + "'");
    }
    if (t[0] == "CREATE") {
      create(t);
    } else if (t[0] == "ALTER" && at(t, 1, {"TABLE"})) {
      alter_table(t);
      return;  // RENAME checked there
    } else if (t[0] == "DROP") {
      add("drop", t,
          "the release before this one may still use it: drop it in a later release's "
          "migration, once no running binary does (and exempt that migration by name)");
    } else if (t[0] == "TRUNCATE") {
      add("truncate", t, "removes rows the release before this one may still read");
    } else if ((t[0] == "VACUUM" && contains(t, {"FULL"})) || t[0] == "CLUSTER" ||
               (t[0] == "REINDEX" && !contains(t, {"CONCURRENTLY"}))) {
      add("table-rewrite", t, "locks the table for the whole rewrite");
    }
    if (contains(t, {"RENAME"})) {
      add("rename", t, "the release before this one still uses the old name");
    }
  }

  void create(const Tokens& t) {
    std::size_t i = 1;
    if (at(t, i, {"OR", "REPLACE"})) i += 2;
    while (i < t.size() && (t[i] == "UNLOGGED" || t[i] == "TEMP" || t[i] == "TEMPORARY")) ++i;
    if (at(t, i, {"TABLE"})) {
      ++i;
      if (at(t, i, {"IF", "NOT", "EXISTS"})) i += 3;
      if (i < t.size()) created_.insert(object_name(t[i]));
      return;
    }
    if (at(t, i, {"UNIQUE"})) ++i;
    if (!at(t, i, {"INDEX"})) return;
    ++i;
    const bool concurrently = at(t, i, {"CONCURRENTLY"});
    if (concurrently) ++i;
    if (at(t, i, {"IF", "NOT", "EXISTS"})) i += 3;
    if (i < t.size() && t[i] != "ON") ++i;  // the index's name
    if (!at(t, i, {"ON"})) return;
    ++i;
    if (at(t, i, {"ONLY"})) ++i;
    if (i >= t.size() || concurrently) return;
    if (!created_.count(object_name(t[i]))) {
      add("index-without-concurrently", t,
          "CREATE INDEX blocks every write to the table until it is built: build it "
          "CONCURRENTLY in a no-transaction migration");
    }
  }

  void alter_table(const Tokens& t) {
    std::size_t i = 2;
    if (at(t, i, {"IF", "EXISTS"})) i += 2;
    if (at(t, i, {"ONLY"})) ++i;
    if (i >= t.size()) return;
    if (created_.count(object_name(t[i]))) return;  // new in this file: nobody uses it yet
    for (const auto& a : actions(t, i + 1)) {
      if (a.empty()) continue;
      if (a[0] == "RENAME") {
        add("rename", t, "the release before this one still uses the old name");
      } else if (a[0] == "DROP") {
        add("drop", t,
            "the release before this one may still use it: drop it in a later release's "
            "migration, once no running binary does (and exempt that migration by name)");
      } else if (a[0] == "ALTER") {
        alter_column(t, a);
      } else if (a[0] == "ADD") {
        add_to_table(t, a);
      } else if (at(a, 0, {"SET", "TABLESPACE"}) || at(a, 0, {"SET", "LOGGED"}) ||
                 at(a, 0, {"SET", "UNLOGGED"})) {
        add("table-rewrite", t, "rewrites the table under an ACCESS EXCLUSIVE lock");
      }
    }
  }

  void alter_column(const Tokens& t, const Tokens& a) {
    std::size_t j = 1;
    if (at(a, j, {"COLUMN"})) ++j;
    ++j;  // the column
    if (at(a, j, {"TYPE"}) || at(a, j, {"SET", "DATA", "TYPE"})) {
      add("column-type", t,
          "rewrites the table under an ACCESS EXCLUSIVE lock, and the release before this "
          "one reads and writes the old type: add a new column instead");
    } else if (at(a, j, {"SET", "NOT", "NULL"})) {
      add("set-not-null", t,
          "scans the table under an ACCESS EXCLUSIVE lock, and the release before this one "
          "may write NULL: add a CHECK (col IS NOT NULL) NOT VALID, then VALIDATE it");
    } else if (at(a, j, {"DROP"})) {
      add("drop", t,
          "the release before this one may rely on it (a default it leaves out, a NULL it "
          "never expects)");
    }
  }

  void add_to_table(const Tokens& t, const Tokens& a) {
    std::size_t j = 1;
    if (at(a, j, {"CONSTRAINT"})) j += 2;
    if (j >= a.size()) return;
    if (a[j] == "CHECK" || a[j] == "FOREIGN") {
      if (!contains(a, {"NOT", "VALID"})) {
        add("constraint-not-valid", t,
            "validates every row under a lock that blocks writes: add it NOT VALID, then "
            "VALIDATE CONSTRAINT in a later statement");
      }
      return;
    }
    if (a[j] == "UNIQUE" || a[j] == "PRIMARY" || a[j] == "EXCLUDE") {
      if (!contains(a, {"USING", "INDEX"})) {
        add("constraint-index", t,
            "builds its index while blocking writes: build a unique index CONCURRENTLY, then "
            "ADD CONSTRAINT ... USING INDEX");
      }
      return;
    }
    // A column.
    if (at(a, j, {"COLUMN"})) ++j;
    if (at(a, j, {"IF", "NOT", "EXISTS"})) j += 3;
    const std::size_t type = j + 1;
    const bool has_default = contains(a, {"DEFAULT"});
    if (type < a.size() && std::find(std::begin(kSerialTypes), std::end(kSerialTypes), a[type]) !=
                               std::end(kSerialTypes)) {
      add("volatile-default", t, "a serial column fills every existing row: a table rewrite");
    }
    if (contains(a, {"GENERATED"})) {
      add("volatile-default", t,
          "a generated or identity column fills every existing row: a table rewrite");
    }
    if (has_default) {
      const auto d = std::find(a.begin(), a.end(), "DEFAULT") - a.begin();
      for (const auto f : kVolatileFunctions) {
        if (std::find(a.begin() + d, a.end(), f) != a.end()) {
          add("volatile-default", t,
              "a volatile default (" + std::string(f) +
                  ") is computed for every existing row: a table rewrite; add the column "
                  "without it, or with a constant default");
          break;
        }
      }
    }
    if (contains(a, {"NOT", "NULL"}) && !has_default) {
      add("not-null-without-default", t,
          "fails on a table with rows, and the release before this one inserts rows "
          "without the column: give it a constant DEFAULT, or leave it nullable");
    }
    if (contains_any(a, type, {"UNIQUE", "PRIMARY", "EXCLUDE"})) {
      add("constraint-index", t, "builds an index while blocking writes");
    }
    if (contains_any(a, type, {"CHECK"}) ||
        (has_default && contains_any(a, type, {"REFERENCES"}))) {
      add("constraint-not-valid", t,
          "validates every row under a lock that blocks writes: add the constraint "
          "separately, NOT VALID");
    }
  }

  std::string file_;
  bool no_transaction_;
  std::vector<Tokens> statements_;
  std::set<std::string> created_;  // tables created in this file
  std::set<std::string> dropped_;  // no-transaction: indexes dropped to be rebuilt
  std::set<std::string> rebuilt_;
  std::vector<Violation> out_;
};

}  // namespace

std::vector<SqlStatement> split(std::string_view sql) {
  std::vector<SqlStatement> out;
  SqlStatement current;
  std::size_t start = 0;
  auto finish = [&](std::size_t end) {
    if (!current.tokens.empty()) {
      auto text = sql.substr(start, end - start);
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
        text.remove_prefix(1);
      }
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
        text.remove_suffix(1);
      }
      current.text = std::string(text);
      out.push_back(std::move(current));
    }
    current = SqlStatement{};
  };
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const auto nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      int depth = 0;
      while (i < sql.size()) {
        if (sql.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (sql.compare(i, 2, "*/") == 0) {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
    } else if (c == '\'' || c == '"') {
      const bool escapes = c == '\'' && !current.tokens.empty() && current.tokens.back() == "E" &&
                           i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      if (escapes) current.tokens.pop_back();
      const auto end = skip_quoted(sql, i, c, escapes);
      current.tokens.emplace_back(sql.substr(i, end - i));
      i = end;
    } else if (c == '$' && !dollar_delimiter(sql, i).empty()) {
      const auto delimiter = dollar_delimiter(sql, i);
      const auto close = sql.find(delimiter, i + delimiter.size());
      i = close == std::string_view::npos ? sql.size() : close + delimiter.size();
      current.tokens.emplace_back("$$");
    } else if (word_char(c)) {
      std::size_t j = i;
      // A qualified name (public.orders) or a number (1.5) is one token.
      while (j < sql.size() && (word_char(sql[j]) || (sql[j] == '.' && j + 1 < sql.size() &&
                                                      word_char(sql[j + 1]) && j > i))) {
        ++j;
      }
      current.tokens.push_back(upper(sql.substr(i, j - i)));
      i = j;
    } else if (c == ';') {
      finish(i);
      start = ++i;
    } else {
      current.tokens.emplace_back(1, c);
      ++i;
    }
  }
  finish(sql.size());
  return out;
}

bool runs_outside_transaction(std::string_view file_content) {
  const auto line = file_content.substr(0, file_content.find('\n'));
  auto trimmed = line;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())) != 0) {
    trimmed.remove_suffix(1);
  }
  return trimmed == kNoTransactionMarker;
}

std::string concurrent_index_name(const SqlStatement& statement) {
  const auto& t = statement.tokens;
  std::size_t i = at(t, 1, {"UNIQUE"}) ? 2 : 1;
  if (t.empty() || t[0] != "CREATE" || !at(t, i, {"INDEX", "CONCURRENTLY"})) return "";
  i += 2;
  if (at(t, i, {"IF", "NOT", "EXISTS"})) i += 3;
  if (i >= t.size() || t[i] == "ON") return "";
  return object_name(t[i]);
}

std::vector<Violation> check(std::string_view name, std::string_view content) {
  return Checker(name, content).run();
}

const std::vector<Exemption>& exemptions() {
  static const std::vector<Exemption> list = {
      {"0003_reliability.sql", "index-without-concurrently",
       "predates the rule; its indexes were built when orders and inbox_events were new and "
       "empty, and it has been applied (a changed file fails its checksum)"},
      {"0004_retention.sql", "index-without-concurrently",
       "predates the rule (it ran when task_runs was new and nearly empty) and has been applied"},
  };
  return list;
}

std::vector<Violation> check_with_exemptions(std::string_view name, std::string_view content) {
  auto violations = check(name, content);
  std::erase_if(violations, [&](const Violation& v) {
    return std::any_of(exemptions().begin(), exemptions().end(),
                       [&](const Exemption& e) { return e.file == name && e.rule == v.rule; });
  });
  return violations;
}

}  // namespace os::db::migration_sql
