// Remembers which dependencies a duty found down, so that it logs a dependency going
// down and coming back once each, never once per message.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <set>
#include <string>

#include "core/failure.hpp"
#include "core/logging.hpp"

namespace os {

class DependencyHealth {
 public:
  explicit DependencyHealth(std::string duty) : duty_(std::move(duty)) {}

  // Returns true when this is news (the dependency was up until now).
  bool down(Dependency dependency, const std::string& reason) {
    if (!down_.insert(dependency).second) return false;
    log::warn("dependency unavailable", {{"dependency", std::string(dependency_name(dependency))},
                                         {"duty", duty_},
                                         {"error", reason}});
    return true;
  }
  // A failure that is not a dependency being down (a bug, a bad message) is no state to
  // remember: it is logged as an error each time.
  void down(const Failure& f) {
    if (f.dependency) {
      down(*f.dependency, f.reason);
    } else {
      log::error("duty step failed", {{"duty", duty_}, {"error", f.reason}});
    }
  }

  // A call that needed `dependency` succeeded.
  void up(Dependency dependency) {
    if (down_.erase(dependency) == 0) return;
    log::info("dependency available again",
              {{"dependency", std::string(dependency_name(dependency))}, {"duty", duty_}});
  }
  // Everything worked.
  void all_up() {
    while (!down_.empty()) up(*down_.begin());
  }
  bool any_down() const { return !down_.empty(); }

 private:
  std::string duty_;
  std::set<Dependency> down_;
};

// Capped exponential backoff with equal jitter: uniform in [base*2^n / 2, base*2^n].
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
      : base_(base), cap_(cap), rng_(std::random_device{}()) {}

  std::chrono::milliseconds next() {
    const auto exp = std::min<std::int64_t>(cap_.count(), base_.count() << std::min(attempt_, 20));
    if (attempt_ < 30) ++attempt_;
    std::uniform_int_distribution<std::int64_t> jitter(exp / 2,
                                                       std::max<std::int64_t>(exp / 2, exp));
    return std::chrono::milliseconds(jitter(rng_));
  }
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds base_, cap_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

// The delay before retry number `attempt` (0-based): base * 2^attempt, capped.
inline std::chrono::milliseconds capped_backoff(int attempt, std::chrono::milliseconds base,
                                                std::chrono::milliseconds cap) {
  const auto exp = base.count() << std::clamp(attempt, 0, 20);
  return std::chrono::milliseconds(std::min<std::int64_t>(cap.count(), exp));
}

}  // namespace os
