#include "redis/multiplexer.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "core/write_now.hpp"

namespace os::redis {
namespace {

// One caller's commands: how many replies it expects, what came, its deadline, and a
// timer the reader (or a failure) cancels to wake it. A command's timer never expires by
// itself: the link's watchdog enforces the deadlines, so a command does not re-arm the
// io thread's timerfd (a timer per command did, about every other request).
struct Waiter {
  // `timer_expiry`: when the wait ends by itself (Clock::time_point::max(): never).
  Waiter(const asio::any_io_executor& ex, std::size_t n, Clock::time_point deadline,
         Clock::time_point timer_expiry)
      : expected(n), deadline(deadline), timer(ex, timer_expiry) {
    replies.reserve(n);
  }
  std::size_t expected;
  Clock::time_point deadline;
  std::vector<RedisReply> replies;
  std::string error;  // set when the connection failed first
  bool done = false;
  asio::steady_timer timer;

  void wake() { timer.cancel(); }
};

// A connection with the commands written to it and not answered yet, in order.
struct Link {
  explicit Link(std::unique_ptr<RedisConnection> c)
      : conn(std::move(c)), watchdog(conn->socket().get_executor()) {}
  std::unique_ptr<RedisConnection> conn;
  std::string out;  // encoded, not written yet
  bool writing = false;
  bool broken = false;
  std::deque<Waiter*> in_flight;
  asio::steady_timer watchdog;  // at the earliest deadline in flight (see watch())
  bool watching = false;

  // Every waiter gets `reason`; the socket is closed so that reader and writer stop.
  void fail(const std::string& reason) {
    if (broken) return;
    broken = true;
    boost::system::error_code ignored;
    conn->socket().close(ignored);
    watchdog.cancel();
    for (auto* w : in_flight) {
      w->error = reason;
      w->wake();
    }
    in_flight.clear();
    out.clear();
  }

  Clock::time_point earliest_deadline() const {
    auto earliest = Clock::time_point::max();
    for (const auto* w : in_flight) earliest = std::min(earliest, w->deadline);
    return earliest;
  }
};

// Breaks the link when the earliest deadline of its waiters passes: one timer for the
// link, armed for that deadline and re-armed when it fires, not one per command. While it
// is not armed, nothing is in flight.
void arm_watchdog(const std::shared_ptr<Link>& link, Clock::time_point at) {
  link->watching = true;
  link->watchdog.expires_at(at);
  link->watchdog.async_wait([link](boost::system::error_code) {
    link->watching = false;
    if (link->broken || link->in_flight.empty()) return;
    const auto earliest = link->earliest_deadline();
    if (earliest <= Clock::now()) {
      // A later reply could not be matched any more: every waiter fails.
      link->fail("Redis did not answer in time");
      return;
    }
    arm_watchdog(link, earliest);
  });
}

// A waiter with `deadline` joined the link's in-flight commands.
void watch(const std::shared_ptr<Link>& link, Clock::time_point deadline) {
  if (!link->watching) {
    arm_watchdog(link, deadline);
  } else if (deadline < link->watchdog.expiry()) {
    link->watchdog.cancel();  // a caller with a shorter timeout: its handler re-arms
  }
}

}  // namespace

struct RedisMultiplexer::State {
  asio::any_io_executor ex;
  config::RedisEndpoint endpoint;
  Millis connect_timeout;
  std::shared_ptr<Link> link;
  bool connecting = false;
  std::string connect_error;
  std::vector<Waiter*> connect_waiters;
};

namespace {

using State = RedisMultiplexer::State;

awaitable<void> read_replies(std::shared_ptr<Link> link) {
  char buffer[16384];
  while (!link->broken) {
    boost::system::error_code ec;
    std::size_t n = 0;
    if (auto* tls = link->conn->tls()) {
      n = co_await tls->async_read_some(asio::buffer(buffer),
                                        asio::redirect_error(asio::use_awaitable, ec));
    } else {
      n = co_await link->conn->socket().async_read_some(
          asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      link->fail("Redis connection failed: " + ec.message());
      co_return;
    }
    link->conn->feed(buffer, n);
    try {
      while (auto reply = link->conn->next_reply()) {
        if (link->in_flight.empty()) throw RedisUnavailable("unexpected reply from Redis");
        if (is_readonly_error(*reply)) {
          // A failover made this node a replica: every caller retries on a new connection.
          throw RedisUnavailable("Redis at " + link->conn->node().text() +
                                 " is a read-only replica now");
        }
        auto* w = link->in_flight.front();
        w->replies.push_back(std::move(*reply));
        if (w->replies.size() == w->expected) {
          link->in_flight.pop_front();
          w->done = true;
          w->wake();
        }
      }
    } catch (const RedisUnavailable& e) {
      link->fail(e.what());
      co_return;
    }
  }
}

// Writes what callers queued, asynchronously: what write_now could not send at once.
awaitable<void> write_queued(std::shared_ptr<Link> link) {
  while (!link->broken && !link->out.empty()) {
    std::string chunk;
    chunk.swap(link->out);
    boost::system::error_code ec;
    if (auto* tls = link->conn->tls()) {
      co_await asio::async_write(*tls, asio::buffer(chunk),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(link->conn->socket(), asio::buffer(chunk),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      link->fail("Redis connection failed: " + ec.message());
      break;
    }
  }
  link->writing = false;
}

// Writes what callers queued in this loop turn: at once, as far as the socket takes it
// (nearly always all of it), the rest asynchronously. Over TLS all of it asynchronously:
// the stream encrypts and writes in one operation, which a partial non-blocking send
// would cut in the middle of a record.
void flush(const std::shared_ptr<Link>& link) {
  if (!link->broken && link->conn->tls() == nullptr) {
    boost::system::error_code ec;
    const auto written = write_now(link->conn->socket(), asio::buffer(link->out), ec);
    if (ec) {
      link->fail("Redis connection failed: " + ec.message());
    } else {
      link->out.erase(0, written);
    }
  }
  if (!link->broken && !link->out.empty()) {  // write_queued ends the write
    asio::co_spawn(link->conn->socket().get_executor(), write_queued(link), asio::detached);
    return;
  }
  link->writing = false;
}

// Opens the connection (one caller at a time; the others wait for its outcome).
awaitable<std::shared_ptr<Link>> current_link(std::shared_ptr<State> s, Millis timeout) {
  if (s->link && !s->link->broken) co_return s->link;
  if (s->connecting) {
    const auto deadline = Clock::now() + timeout;
    Waiter w(s->ex, 0, deadline, deadline);
    s->connect_waiters.push_back(&w);
    boost::system::error_code ignored;
    co_await w.timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    std::erase(s->connect_waiters, &w);
    if (s->link && !s->link->broken) co_return s->link;
    throw RedisUnavailable(s->connecting ? "timed out waiting for the Redis connection"
                                         : s->connect_error);
  }
  s->connecting = true;
  std::exception_ptr error;
  try {
    auto conn = co_await RedisConnection::connect(s->ex, s->endpoint, s->connect_timeout);
    conn->socket().non_blocking(true);  // for write_now
    s->link = std::make_shared<Link>(std::move(conn));
    asio::co_spawn(s->ex, read_replies(s->link), asio::detached);
  } catch (const RedisUnavailable& e) {
    s->connect_error = e.what();
    error = std::current_exception();
  }
  s->connecting = false;
  for (auto* w : s->connect_waiters) w->wake();
  if (error) std::rethrow_exception(error);
  co_return s->link;
}

}  // namespace

RedisMultiplexer::RedisMultiplexer(asio::any_io_executor ex, config::RedisEndpoint endpoint,
                                   Millis connect_timeout)
    : state_(std::make_shared<State>()) {
  state_->ex = std::move(ex);
  state_->endpoint = std::move(endpoint);
  state_->connect_timeout = connect_timeout;
}

RedisMultiplexer::~RedisMultiplexer() {
  if (state_->link) state_->link->fail("Redis client closed");
}

awaitable<std::vector<RedisReply>> RedisMultiplexer::pipeline(const std::vector<Command>& commands,
                                                              Millis timeout) {
  auto s = state_;
  auto link = co_await current_link(s, timeout);
  Waiter w(s->ex, commands.size(), Clock::now() + timeout, Clock::time_point::max());
  for (const auto& c : commands) encode_command(link->out, c);
  link->in_flight.push_back(&w);
  watch(link, w.deadline);
  if (!link->writing) {
    link->writing = true;
    // Posted, not started here: the commands of every request handled in this loop turn
    // join the same write.
    asio::post(s->ex, [link] { flush(link); });
  }
  boost::system::error_code ignored;
  co_await w.timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  if (w.done) co_return std::move(w.replies);
  if (w.error.empty()) {  // not woken by the reader or a failure (cannot happen; be safe)
    link->fail("Redis did not answer in time");
    throw RedisUnavailable("Redis did not answer in time");
  }
  throw RedisUnavailable(w.error);
}

}  // namespace os::redis
