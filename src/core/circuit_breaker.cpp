#include "core/circuit_breaker.hpp"

#include "core/logging.hpp"

namespace os {
namespace {
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}
constexpr int kClosed = 0, kOpen = 1, kHalfOpen = 2;
}  // namespace

bool CircuitBreaker::allow() {
  int state = state_.load(std::memory_order_acquire);
  if (state == kClosed) return true;
  if (state == kHalfOpen) return false;
  if (now_ns() < open_until_.load(std::memory_order_acquire)) return false;
  return state_.compare_exchange_strong(state, kHalfOpen);
}

void CircuitBreaker::on_success() {
  if (state_.exchange(kClosed) != kClosed) {
    log::info("circuit breaker closed: dependency answers again", {{"dependency", name_}});
  }
}

void CircuitBreaker::on_failure(std::string_view reason) {
  open_until_.store(
      now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(open_for_).count(),
      std::memory_order_release);
  if (state_.exchange(kOpen) == kClosed) {
    log::warn("circuit breaker opened: skipping dependency",
              {{"dependency", name_},
               {"reason", reason},
               {"open_ms", static_cast<std::int64_t>(open_for_.count())}});
  }
}

}  // namespace os
