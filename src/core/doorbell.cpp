#include "core/doorbell.hpp"

#include <boost/asio/post.hpp>

namespace os {

void Doorbell::attach(asio::any_io_executor ex, std::function<void()> interrupt) {
  std::lock_guard lock(mutex_);
  executor_ = std::move(ex);
  interrupt_ = std::move(interrupt);
  ++generation_;
  attached_.store(true, std::memory_order_release);
}

void Doorbell::detach() {
  std::lock_guard lock(mutex_);
  executor_.reset();
  interrupt_ = nullptr;
  ++generation_;
  attached_.store(false, std::memory_order_release);
}

bool Doorbell::attached() const {
  return attached_.load(std::memory_order_acquire);
}

bool Doorbell::ring(unsigned reasons) {
  std::lock_guard lock(mutex_);
  if (!executor_) return false;
  // Already rung and not yet taken: the waiter will see these reasons too before it
  // waits again.
  if (rung_.fetch_or(reasons, std::memory_order_acq_rel) != 0) return true;
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
