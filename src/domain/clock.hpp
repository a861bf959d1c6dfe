// "Now", in the few forms the code needs: wall-clock time as the system stores, signs and
// logs it (Unix milliseconds and seconds), and monotonic seconds for token buckets. Deadlines and
// intervals use std::chrono::steady_clock (`os::Clock`) directly.
#pragma once
#include <chrono>
#include <cstdint>

namespace os::domain {

inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t unix_seconds() {
  return unix_ms() / 1000;
}

// Seconds on the monotonic clock, as a fraction: never goes back, meaningful within one
// process only (the local rate-limit buckets; the Redis ones use Redis' TIME).
inline double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace os::domain
