// One non-blocking libpq connection driven from an Asio executor.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/async.hpp"
#include "core/failure.hpp"

// libpq's handles (PGconn, PGresult), declared so that its header stays in the .cpp.
struct pg_conn;
struct pg_result;

namespace os::db {

// The server answered with an error (constraint violation, bad SQL, ...).
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// The database could not be reached or did not answer in time.
class PgUnavailable : public DependencyUnavailable {
 public:
  explicit PgUnavailable(const std::string& what)
      : DependencyUnavailable(Dependency::Postgres, what) {}
};

// A PostgreSQL array literal ({"a","b"}) with every element quoted, for `$1::text[]` /
// `$1::uuid[]` parameters.
std::string array_literal(const std::vector<std::string>& items);

// SQLSTATEs that say the server cannot serve now, whatever the query.
bool is_transient_sqlstate(const std::string& state);

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);

  int rows() const;
  bool null(int row, int col) const;
  std::string_view text(int row, int col) const;
  std::optional<std::string> optional_text(int row, int col) const {
    if (null(row, col)) return std::nullopt;
    return std::string(text(row, col));
  }
  std::int64_t integer(int row, int col) const;
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  std::int64_t affected() const;

 private:
  std::shared_ptr<pg_result> result_;
};

struct Statement {
  const char* name;  // unique per statement; prepared once per connection
  const char* sql;
};

using Params = std::vector<std::optional<std::string>>;

// Builds Params without a braced list: GCC 12 miscompiles initializer lists that
// live across a co_await ("array used as initializer").
template <typename... Args>
Params params(Args&&... args) {
  Params p;
  p.reserve(sizeof...(Args));
  (p.emplace_back(std::forward<Args>(args)), ...);
  return p;
}

class PgConnection {
 public:
  static awaitable<std::unique_ptr<PgConnection>> connect(const asio::any_io_executor& ex,
                                                          const std::string& conninfo,
                                                          Millis timeout);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // A prepared statement with text parameters.
  awaitable<PgResult> execute(const Statement& statement, const Params& params, Millis timeout);
  // Plain SQL, possibly several statements (migrations, BEGIN/COMMIT, LISTEN).
  awaitable<PgResult> query(std::string_view sql, Millis timeout);
  // Waits for NOTIFY payloads on channels this connection LISTENs to; empty on timeout.
  awaitable<std::vector<std::string>> wait_notifications(Millis timeout);
  // Ends a wait_notifications in progress at once, as if it timed out (no-op otherwise).
  // Called on this connection's executor.
  void interrupt_wait();
  // The NOTIFY payloads that have arrived, without waiting; throws PgUnavailable.
  std::vector<std::string> take_notifications();

  bool broken() const;
  // False when the server closed this idle connection (nothing else should be readable).
  bool usable();

 private:
  PgConnection(const asio::any_io_executor& ex, pg_conn* conn);
  void bind_socket();
  awaitable<void> wait(bool for_write);
  awaitable<PgResult> collect(Millis timeout);
  [[noreturn]] void fail(const std::string& what);

  pg_conn* conn_;
  asio::posix::stream_descriptor socket_;
  std::unordered_set<const char*> prepared_;
  bool broken_ = false;
  bool waiting_for_notifications_ = false;
  bool interrupted_ = false;
};

}  // namespace os::db
