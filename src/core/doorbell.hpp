// Wakes a duty that waits on another thread's io_context, in-process: the api rings the
// relay of its own process after an order commits, instead of a NOTIFY through PostgreSQL.
//
// The waiting side attaches with the action that ends its wait (run on its own executor,
// so it never races the duty), checks take() before each wait and after it, and detaches
// when it can no longer do the work (then ring() says so, and the caller wakes the work
// another way). Rings coalesce: while one is pending, ringing again costs an atomic read,
// so a busy duty is not woken once per commit.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "core/async.hpp"

namespace os {

class Doorbell {
 public:
  // On the waiter's executor `ex`; `interrupt` ends the wait in progress, if any.
  void attach(asio::any_io_executor ex, std::function<void()> interrupt);
  // On the waiter's executor: no interrupt runs after this (one already posted is dropped).
  void detach();
  bool attached() const;

  // From any thread, never blocks. False when no waiter is attached.
  bool ring();
  // By the waiter: whether it was rung since it last took.
  bool take() { return rung_.exchange(false, std::memory_order_acq_rel); }

 private:
  mutable std::mutex mutex_;
  std::optional<asio::any_io_executor> executor_;
  std::function<void()> interrupt_;
  std::uint64_t generation_ = 0;  // bumped by attach and detach
  std::atomic<bool> rung_{false};
};

}  // namespace os
