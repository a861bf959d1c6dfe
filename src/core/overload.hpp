// Refusals of an overloaded service: a bounded queue is full, or a request waited in it
// past its deadline. The excess of an overload is answered at once (503 + Retry-After,
// http/middleware.cpp) instead of waiting for a slot it would get too late for its
// client. A DependencyUnavailable, so that a caller that is not a request (a background
// duty) sees a transient failure and tries again later.
#pragma once
#include <string>
#include <string_view>

#include "core/failure.hpp"

namespace os {

class Overloaded : public DependencyUnavailable {
 public:
  // The closed set of reasons (a metrics label): see reason_label().
  enum class Reason { QueueFull, WaitExpired };

  Overloaded(Dependency dependency, Reason reason, const std::string& what)
      : DependencyUnavailable(dependency, what), reason_(reason) {}
  Reason reason() const { return reason_; }

 private:
  Reason reason_;
};

inline std::string_view reason_label(Overloaded::Reason r) {
  return r == Overloaded::Reason::QueueFull ? "queue_full" : "queue_wait";
}

}  // namespace os
