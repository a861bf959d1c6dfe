// A pool of connections owned by one io thread (no locks): PostgreSQL and Redis use it.
// Conn must provide `bool broken() const` and `bool usable()`: a cheap check, before
// reuse, that the server did not close an idle connection (e.g. it restarted).
//
// Callers that find every connection leased wait in FIFO order; a released connection is
// handed to the first waiter directly (a newcomer cannot take it from under a waiter).
// With set_limits(), the queue is bounded for overload: a caller that finds `max_waiters`
// already waiting is refused at once, and one that waited `max_wait` without getting a
// connection is refused then (Overloaded), instead of being served later than its client
// is likely to wait. Exempt callers (readiness probes) skip the bound and queue first.
#pragma once
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/async.hpp"
#include "core/overload.hpp"

namespace os {

template <typename Conn>
class ConnectionPool {
 public:
  using Factory = std::function<awaitable<std::unique_ptr<Conn>>()>;

  ConnectionPool(asio::any_io_executor ex, int size, Millis acquire_timeout, Factory factory)
      : executor_(std::move(ex)),
        size_(size),
        acquire_timeout_(acquire_timeout),
        factory_(std::move(factory)) {}

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = default;
    ~Lease() {
      if (conn_) pool_->release(std::move(conn_));
    }
    Conn* operator->() const { return conn_.get(); }
    Conn& operator*() const { return *conn_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  // Bounds the queue of callers waiting for a connection (see the top of this file);
  // `dependency` names the server in the Overloaded refusals.
  void set_limits(std::size_t max_waiters, Millis max_wait, Dependency dependency) {
    max_waiters_ = max_waiters;
    max_wait_ = max_wait;
    bounded_ = true;
    dependency_ = dependency;
  }

  // Throws std::runtime_error subclasses from the factory, or Timeout when every
  // connection stays busy for the acquire timeout; with limits set, Overloaded when the
  // queue is full or the wait reaches max_wait (exempt callers: the acquire timeout).
  template <typename Timeout>
  awaitable<Lease> acquire(bool exempt = false) {
    const bool bounded = bounded_ && !exempt;
    const auto deadline = Clock::now() + (bounded ? max_wait_ : acquire_timeout_);
    bool queued_before = false;
    for (;;) {
      while (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn->usable()) co_return Lease(this, std::move(conn));
        --open_;  // closed by the server while idle: drop it, try the next
      }
      if (open_ < size_) co_return Lease(this, co_await open());
      // Counted once per call: one woken to open a connection that a newcomer then took
      // goes back to the queue whatever its length.
      if (bounded && !queued_before && waiters_.size() - exempt_waiting_ >= max_waiters_) {
        throw Overloaded(dependency_, Overloaded::Reason::QueueFull,
                         "too many requests waiting for a connection");
      }
      if (Clock::now() >= deadline) {
        if (bounded) {
          throw Overloaded(dependency_, Overloaded::Reason::WaitExpired,
                           "no free connection within the queue-wait bound");
        }
        throw Timeout("no free connection in time");
      }
      queued_before = true;
      Waiter waiter{asio::steady_timer(executor_, deadline - Clock::now()), nullptr};
      if (exempt) {
        waiters_.push_front(&waiter);
        ++exempt_waiting_;
      } else {
        waiters_.push_back(&waiter);
      }
      boost::system::error_code ec;
      co_await waiter.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      std::erase(waiters_, &waiter);  // still queued when its time ran out
      if (exempt) --exempt_waiting_;
      // Handed over right after its last use: no need to check it again.
      if (waiter.conn) co_return Lease(this, std::move(waiter.conn));
      // Woken without a connection: one may be opened now (or time is up).
    }
  }

  // Opens connections up to `count` ahead of demand, so the first burst of requests does
  // not pay for (and pile up behind) connection setup. Stops quietly at the first error.
  awaitable<void> warm_up(int count) {
    while (open_ < std::min(count, size_)) {
      try {
        give(co_await open());
      } catch (...) {
        co_return;  // whatever it was: the first request opens (and reports) it
      }
    }
  }

 private:
  // A new connection, counted in open_ from the start so concurrent callers respect size_.
  awaitable<std::unique_ptr<Conn>> open() {
    ++open_;
    std::exception_ptr error;
    try {
      co_return co_await factory_();
    } catch (...) {
      error = std::current_exception();
    }
    --open_;
    wake_one();
    std::rethrow_exception(error);
  }

  void release(std::unique_ptr<Conn> conn) {
    if (conn->broken()) {
      // The server probably went away: drop the idle ones too, so the next
      // request reconnects instead of failing on another dead socket.
      open_ -= 1 + static_cast<int>(idle_.size());
      idle_.clear();
      wake_one();  // to open a new one
      return;
    }
    give(std::move(conn));
  }

  // A usable connection: to the first waiter, else to the idle list.
  void give(std::unique_ptr<Conn> conn) {
    if (waiters_.empty()) {
      idle_.push_back(std::move(conn));
      return;
    }
    auto* waiter = waiters_.front();
    waiters_.pop_front();
    waiter->conn = std::move(conn);
    waiter->timer.cancel();
  }

  void wake_one() {
    if (waiters_.empty()) return;
    waiters_.front()->timer.cancel();
    waiters_.pop_front();
  }

  struct Waiter {
    asio::steady_timer timer;
    std::unique_ptr<Conn> conn;  // handed over by give()
  };

  asio::any_io_executor executor_;
  int size_;
  Millis acquire_timeout_;
  Factory factory_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::deque<Waiter*> waiters_;
  std::size_t exempt_waiting_ = 0;
  int open_ = 0;  // idle + leased + connecting
  bool bounded_ = false;
  std::size_t max_waiters_ = std::numeric_limits<std::size_t>::max();
  Millis max_wait_{0};
  Dependency dependency_ = Dependency::Postgres;
};

}  // namespace os
