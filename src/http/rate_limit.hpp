// What the middleware chain asks of a rate limiter (implemented by api::RateLimiter); the
// transport knows only the decision and the RateLimit-* headers it turns into.
#pragma once
#include <string>

#include "core/async.hpp"

namespace os::http {

struct RateDecision {
  bool allowed = true;
  double remaining = 0;
  double reset_seconds = 0;  // until the bucket is full again
  double retry_after = 0;    // until one token is available
};

class RateLimit {
 public:
  virtual ~RateLimit() = default;
  // The decision for one request of `client` (an address).
  virtual awaitable<RateDecision> check(const std::string& client) = 0;
  virtual double capacity() const = 0;  // RateLimit-Limit
};

}  // namespace os::http
