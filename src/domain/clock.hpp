// Wall-clock time as the system stores and logs it: Unix milliseconds and seconds.
// (Intervals and deadlines use std::chrono::steady_clock, `os::Clock`, instead.)
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

}  // namespace os::domain
