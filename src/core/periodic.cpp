#include "core/periodic.hpp"

#include <algorithm>

namespace os {

Every::Every(Clock::duration period, double jitter)
    : period_(period), jitter_(std::clamp(jitter, 0.0, 1.0)), rng_(std::random_device{}()) {}

Clock::duration Every::next_period() {
  if (jitter_ == 0.0) return period_;
  std::uniform_real_distribution<double> spread(1.0 - jitter_, 1.0 + jitter_);
  return std::chrono::duration_cast<Clock::duration>(period_ * spread(rng_));
}

bool Every::due(Clock::time_point now) {
  if (now < next_) return false;
  next_ = now + next_period();
  return true;
}

}  // namespace os
