// A small pool for blocking or CPU-heavy work (Argon2), awaited from I/O threads, with a
// bounded queue: when `capacity` jobs are already queued or running, run() refuses at
// once (nullopt) instead of letting waits grow without bound. With `nice` > 0 its threads
// run at that lower scheduling priority (setpriority on each thread), so that a burst of
// such work takes only the CPU the I/O threads leave over.
#pragma once
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <type_traits>

#include "core/async.hpp"

namespace os {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads,
                        std::size_t capacity = std::numeric_limits<std::size_t>::max(),
                        int nice = 0)
      : pool_(threads), threads_(threads), capacity_(capacity), nice_(nice) {}
  ~BlockingPool() { pool_.join(); }

  std::size_t threads() const { return threads_; }
  std::size_t capacity() const { return capacity_.load(); }
  void set_capacity(std::size_t capacity) { capacity_ = capacity; }
  std::size_t in_flight() const { return in_flight_.load(); }

  // Runs fn on the pool; the awaiting coroutine resumes on its own executor with the
  // result (or fn's exception). nullopt, without running fn, when the queue is full or
  // `wanted()` is false when the job's turn comes (nobody waits for it any more). Not a
  // coroutine itself: GCC 12 mishandles templated coroutine lambdas here.
  template <typename Fn>
  awaitable<std::optional<std::invoke_result_t<Fn&>>> run(Fn fn,
                                                          std::function<bool()> wanted = {}) {
    using Result = std::optional<std::invoke_result_t<Fn&>>;
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, Result)>(
        [this, fn = std::move(fn), wanted = std::move(wanted)](auto handler) mutable {
          auto ex = asio::get_associated_executor(handler);
          if (in_flight_.fetch_add(1) >= capacity_.load()) {
            in_flight_.fetch_sub(1);
            asio::post(ex, [handler = std::move(handler)]() mutable {
              std::move(handler)(nullptr, Result{});
            });
            return;
          }
          asio::post(pool_, [this, handler = std::move(handler), fn = std::move(fn),
                             wanted = std::move(wanted), ex]() mutable {
            lower_priority(nice_);
            std::exception_ptr error;
            Result result;
            try {
              if (!wanted || wanted()) result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            in_flight_.fetch_sub(1);
            asio::post(ex,
                       [handler = std::move(handler), error, result = std::move(result)]() mutable {
                         std::move(handler)(error, std::move(result));
                       });
          });
        },
        asio::use_awaitable);
  }

 private:
  // On the pool's thread running a job: its nice value, set once per thread (Linux
  // schedules threads individually; raising one's own nice needs no privilege).
  static void lower_priority(int nice) {
    thread_local int applied = 0;
    if (nice == applied) return;
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice);
    applied = nice;
  }

  asio::thread_pool pool_;
  std::size_t threads_;
  std::atomic<std::size_t> capacity_;
  std::atomic<std::size_t> in_flight_{0};
  int nice_;
};

}  // namespace os
