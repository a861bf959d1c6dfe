// A pool of connections owned by one io thread (no locks): PostgreSQL and Redis use it.
// Conn must provide `bool broken() const` and `bool usable()`: a cheap check, before
// reuse, that the server did not close an idle connection (e.g. it restarted).
#pragma once
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/async.hpp"

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

  // Throws std::runtime_error subclasses from the factory, or Timeout when every
  // connection stays busy for the acquire timeout.
  template <typename Timeout>
  awaitable<Lease> acquire() {
    const auto deadline = Clock::now() + acquire_timeout_;
    for (;;) {
      while (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn->usable()) co_return Lease(this, std::move(conn));
        --open_;  // closed by the server while idle: drop it, try the next
      }
      if (open_ < size_) co_return Lease(this, co_await open());
      if (Clock::now() >= deadline) throw Timeout("no free connection in time");
      asio::steady_timer timer(executor_, deadline - Clock::now());
      waiters_.push_back(&timer);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      std::erase(waiters_, &timer);
    }
  }

  // Opens connections up to `count` ahead of demand, so the first burst of requests does
  // not pay for (and pile up behind) connection setup. Stops quietly at the first error.
  awaitable<void> warm_up(int count) {
    while (open_ < std::min(count, size_)) {
      try {
        idle_.push_back(co_await open());
        wake_one();
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
    } else {
      idle_.push_back(std::move(conn));
    }
    wake_one();
  }

  void wake_one() {
    if (waiters_.empty()) return;
    waiters_.front()->cancel();
    waiters_.pop_front();
  }

  asio::any_io_executor executor_;
  int size_;
  Millis acquire_timeout_;
  Factory factory_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::deque<asio::steady_timer*> waiters_;
  int open_ = 0;  // idle + leased + connecting
};

}  // namespace os
