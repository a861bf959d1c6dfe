// A small pool for blocking or CPU-heavy work (Argon2), awaited from I/O threads.
#pragma once
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <type_traits>

#include "core/async.hpp"

namespace os {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads) : pool_(threads) {}
  ~BlockingPool() { pool_.join(); }

  // Runs fn on the pool; the awaiting coroutine resumes on its own executor with the
  // result (or fn's exception). Not a coroutine itself: GCC 12 mishandles templated
  // coroutine lambdas here.
  template <typename Fn>
  awaitable<std::invoke_result_t<Fn&>> run(Fn fn) {
    using Result = std::invoke_result_t<Fn&>;
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, Result)>(
        [this, fn = std::move(fn)](auto handler) mutable {
          auto ex = asio::get_associated_executor(handler);
          asio::post(pool_, [handler = std::move(handler), fn = std::move(fn), ex]() mutable {
            std::exception_ptr error;
            Result result{};
            try {
              result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            asio::post(ex,
                       [handler = std::move(handler), error, result = std::move(result)]() mutable {
                         std::move(handler)(error, std::move(result));
                       });
          });
        },
        asio::use_awaitable);
  }

 private:
  asio::thread_pool pool_;
};

}  // namespace os
