// Cache state that every role of one process shares: one circuit breaker for the cache
// Redis and one set of stale keys, so that the api never serves an order whose newer
// version the worker failed to write (and vice versa). Built once in main.
#pragma once
#include "cache/order_cache.hpp"
#include "config/settings.hpp"
#include "core/circuit_breaker.hpp"

namespace os::app {

struct SharedCache {
  explicit SharedCache(const config::RedisSettings& redis) : breaker("redis", redis.breaker_open) {}

  CircuitBreaker breaker;
  cache::StaleKeys stale_keys;
};

}  // namespace os::app
