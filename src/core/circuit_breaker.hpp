// Skips a failing dependency for a while instead of paying its timeout on every call.
// Shared by all io threads of a process; state changes are logged once.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/async.hpp"

namespace os {

class CircuitBreaker {
 public:
  enum class State { Closed = 0, Open = 1, HalfOpen = 2 };

  CircuitBreaker(std::string name, Millis open_for) : name_(std::move(name)), open_for_(open_for) {}

  // False while open; once the open period is over, lets exactly one trial call through.
  bool allow();
  void on_success();
  void on_failure(std::string_view reason);
  State state() const { return static_cast<State>(state_.load(std::memory_order_relaxed)); }

 private:
  std::string name_;
  Millis open_for_;
  std::atomic<int> state_{0};
  std::atomic<std::int64_t> open_until_{0};  // steady clock, nanoseconds
};

}  // namespace os
