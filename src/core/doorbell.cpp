#include "core/doorbell.hpp"

#include <boost/asio/post.hpp>

namespace os {

void Doorbell::attach(asio::any_io_executor ex, std::function<void()> interrupt) {
  std::lock_guard lock(mutex_);
  executor_ = std::move(ex);
  interrupt_ = std::move(interrupt);
  ++generation_;
}

void Doorbell::detach() {
  std::lock_guard lock(mutex_);
  executor_.reset();
  interrupt_ = nullptr;
  ++generation_;
}

bool Doorbell::attached() const {
  std::lock_guard lock(mutex_);
  return executor_.has_value();
}

bool Doorbell::ring() {
  std::lock_guard lock(mutex_);
  if (!executor_) return false;
  // Already rung and not yet taken: the waiter will see it before it waits again.
  if (rung_.exchange(true, std::memory_order_acq_rel)) return true;
  asio::post(*executor_, [this, generation = generation_] {
    std::function<void()> interrupt;
    {
      std::lock_guard lock(mutex_);
      if (generation != generation_) return;  // detached (or attached again) since
      interrupt = interrupt_;
    }
    interrupt();
  });
  return true;
}

}  // namespace os
