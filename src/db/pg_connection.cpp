#include "db/pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

#include "core/deadline.hpp"
#include "core/logging.hpp"

namespace os::db {
namespace {
std::string trim_message(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::int64_t PgResult::integer(int row, int col) const {
  const auto t = text(row, col);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n && *n ? std::atoll(n) : 0;
}

PgConnection::PgConnection(const asio::any_io_executor& ex, PGconn* conn)
    : conn_(conn), socket_(ex) {
  // Server NOTICEs ("relation already exists, skipping") go to the log, not stderr.
  PQsetNoticeProcessor(
      conn_,
      [](void*, const char* message) {
        log::debug("postgres notice", {{"message", trim_message(message)}});
      },
      nullptr);
}

PgConnection::~PgConnection() {
  if (socket_.is_open()) socket_.release();  // libpq owns the descriptor
  PQfinish(conn_);
}

bool is_transient_sqlstate(const std::string& state) {
  // 08 connection exception, 53 insufficient resources, 57P operator intervention
  // (admin/crash shutdown, cannot connect now), 58 system error, 25006 read-only
  // transaction (a standby, or a primary that was demoted).
  return state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("57P", 0) == 0 ||
         state.rfind("58", 0) == 0 || state == "25006";
}

void PgConnection::bind_socket() {
  // Registered anew every time: while connecting, libpq closes the socket of a host that
  // failed and opens one to the next host, which may get the same descriptor number (and
  // the old registration died with the old socket).
  if (socket_.is_open()) socket_.release();
  if (const int fd = PQsocket(conn_); fd >= 0) socket_.assign(fd);
}

void PgConnection::fail(const std::string& what) {
  broken_ = true;
  throw PgUnavailable(what + ": " + trim_message(PQerrorMessage(conn_)));
}

PgResult::PgResult(pg_result* r) : result_(r, &PQclear) {}

int PgResult::rows() const {
  return result_ ? PQntuples(result_.get()) : 0;
}

bool PgResult::null(int row, int col) const {
  return PQgetisnull(result_.get(), row, col) != 0;
}

std::string_view PgResult::text(int row, int col) const {
  return {PQgetvalue(result_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
}

bool PgConnection::broken() const {
  return broken_ || PQstatus(conn_) != CONNECTION_OK;
}

bool PgConnection::usable() {
  if (broken()) return false;
  // Readable while idle almost always means the server is going away ("terminating
  // connection" and EOF); a rare harmless message costs one reconnect.
  pollfd pfd{PQsocket(conn_), POLLIN, 0};
  if (::poll(&pfd, 1, 0) > 0) broken_ = true;
  return !broken_;
}

awaitable<void> PgConnection::wait(bool for_write) {
  co_await socket_.async_wait(for_write ? asio::posix::stream_descriptor::wait_write
                                        : asio::posix::stream_descriptor::wait_read,
                              asio::use_awaitable);
}

awaitable<std::unique_ptr<PgConnection>> PgConnection::connect(const asio::any_io_executor& ex,
                                                               const std::string& conninfo,
                                                               Millis timeout) {
  PGconn* raw = PQconnectStart(conninfo.c_str());
  if (raw == nullptr) throw PgUnavailable("out of memory creating a PostgreSQL connection");
  std::unique_ptr<PgConnection> conn(new PgConnection(ex, raw));
  if (PQstatus(raw) == CONNECTION_BAD) conn->fail("cannot connect to PostgreSQL");
  Deadline deadline(ex, timeout, [c = conn.get()] { c->socket_.cancel(); });
  auto status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) conn->fail("cannot connect to PostgreSQL");
    conn->bind_socket();
    try {
      co_await conn->wait(status == PGRES_POLLING_WRITING);
    } catch (const boost::system::system_error&) {
      if (deadline.expired()) conn->fail("timed out connecting to PostgreSQL");
      throw;
    }
    status = PQconnectPoll(raw);
  }
  conn->bind_socket();
  if (PQsetnonblocking(raw, 1) != 0) conn->fail("cannot make the connection non-blocking");
  co_return conn;
}

awaitable<PgResult> PgConnection::collect(Millis timeout) {
  Deadline deadline(socket_.get_executor(), timeout, [this] { socket_.cancel(); });
  try {
    for (;;) {
      const int flushed = PQflush(conn_);
      if (flushed == 0) break;
      if (flushed < 0) fail("sending to PostgreSQL failed");
      co_await wait(true);
    }
    PgResult last;
    std::optional<PgError> error;
    for (;;) {
      while (PQisBusy(conn_) != 0) {
        co_await wait(false);
        if (PQconsumeInput(conn_) == 0) fail("reading from PostgreSQL failed");
      }
      PGresult* r = PQgetResult(conn_);
      if (r == nullptr) break;
      const auto status = PQresultStatus(r);
      if (status == PGRES_FATAL_ERROR && !error) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        error.emplace(state ? state : "", trim_message(PQresultErrorMessage(r)));
      }
      last = PgResult(r);
    }
    if (PQstatus(conn_) != CONNECTION_OK) fail("PostgreSQL connection lost");
    if (error && is_transient_sqlstate(error->sqlstate())) {
      // Shutting down, read-only after a failover, out of resources: the server, not the
      // query, is the problem, so callers treat it like an unreachable database.
      broken_ = error->sqlstate().rfind("57P", 0) == 0 || error->sqlstate().rfind("08", 0) == 0 ||
                error->sqlstate() == "25006";
      throw PgUnavailable("PostgreSQL refused the call for now (" + error->sqlstate() +
                          "): " + error->what());
    }
    if (error) throw *error;
    co_return last;
  } catch (const boost::system::system_error&) {
    broken_ = true;
    if (deadline.expired()) throw PgUnavailable("PostgreSQL did not answer in time");
    throw PgUnavailable("PostgreSQL connection interrupted");
  }
}

awaitable<PgResult> PgConnection::execute(const Statement& statement, const Params& params,
                                          Millis timeout) {
  if (!prepared_.contains(statement.name)) {
    if (PQsendPrepare(conn_, statement.name, statement.sql, 0, nullptr) == 0) {
      fail("sending a statement to PostgreSQL failed");
    }
    co_await collect(timeout);
    prepared_.insert(statement.name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryPrepared(conn_, statement.name, static_cast<int>(values.size()), values.data(),
                          nullptr, nullptr, 0) == 0) {
    fail("sending a query to PostgreSQL failed");
  }
  co_return co_await collect(timeout);
}

awaitable<PgResult> PgConnection::query(std::string_view sql, Millis timeout) {
  const std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) fail("sending a query to PostgreSQL failed");
  co_return co_await collect(timeout);
}

std::vector<std::string> PgConnection::take_notifications() {
  if (PQconsumeInput(conn_) == 0) fail("reading from PostgreSQL failed");
  std::vector<std::string> payloads;
  while (PGnotify* n = PQnotifies(conn_)) {
    payloads.emplace_back(n->extra ? n->extra : "");
    PQfreemem(n);
  }
  return payloads;
}

awaitable<std::vector<std::string>> PgConnection::wait_notifications(Millis timeout) {
  auto payloads = take_notifications();
  if (!payloads.empty()) co_return payloads;
  Deadline deadline(socket_.get_executor(), timeout, [this] { socket_.cancel(); });
  waiting_for_notifications_ = true;
  interrupted_ = false;
  try {
    co_await wait(false);
  } catch (const boost::system::system_error&) {
    waiting_for_notifications_ = false;
    if (deadline.expired() || interrupted_) co_return payloads;
    broken_ = true;
    throw PgUnavailable("PostgreSQL connection interrupted");
  }
  waiting_for_notifications_ = false;
  co_return take_notifications();
}

void PgConnection::interrupt_wait() {
  if (!waiting_for_notifications_ || interrupted_) return;
  interrupted_ = true;
  socket_.cancel();
}

}  // namespace os::db
