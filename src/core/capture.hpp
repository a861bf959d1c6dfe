// Runs `work` and hands back what it threw (null when it succeeded): the one place where
// a duty turns an exception into a value it can classify (core/failure.hpp) and decide on.
#pragma once
#include <exception>

#include "core/async.hpp"

namespace os {

inline awaitable<std::exception_ptr> capture(awaitable<void> work) {
  try {
    co_await std::move(work);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

// The same for a step that does not suspend (a blocking client's calls).
template <typename Step>
std::exception_ptr capture_now(Step&& step) {
  try {
    std::forward<Step>(step)();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace os
