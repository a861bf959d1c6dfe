// "Every N, with jitter": when a duty's recurring chore (reclaim, gauges, promotion of
// delayed tasks) is due. The duty passes the time in, so a test drives it with a fake
// clock. Jitter spreads the chores of many processes started together over the period.
#pragma once
#include <chrono>
#include <random>

#include "core/async.hpp"

namespace os {

class Every {
 public:
  // Due at once, then every `period` ± `jitter` (a fraction of the period, 0..1).
  explicit Every(Clock::duration period, double jitter = 0.1);

  // True when the chore is due at `now`; then the next time is scheduled from `now`.
  bool due(Clock::time_point now);
  // Not before `now` + one period (e.g. after doing the chore for another reason).
  void postpone(Clock::time_point now) { next_ = now + next_period(); }
  Clock::time_point next() const { return next_; }
  Clock::duration period() const { return period_; }

 private:
  Clock::duration next_period();

  Clock::duration period_;
  double jitter_;
  Clock::time_point next_ = Clock::time_point::min();
  std::minstd_rand rng_;
};

}  // namespace os
