// A small pool for blocking or CPU-heavy work (Argon2), awaited from I/O threads.
#pragma once
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/async.hpp"

namespace os {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads) : pool_(threads) {}
  ~BlockingPool() { pool_.join(); }

  // Runs fn on the pool and resumes the caller on its own executor with the result.
  template <typename Fn>
  auto run(Fn fn) -> awaitable<decltype(fn())> {
    co_return co_await asio::co_spawn(
        pool_.get_executor(), [fn = std::move(fn)]() -> awaitable<decltype(fn())> { co_return fn(); },
        asio::use_awaitable);
  }

  void stop() { pool_.stop(); }

 private:
  asio::thread_pool pool_;
};

}  // namespace os
