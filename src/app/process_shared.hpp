// State that every role of one process shares, built once in main:
// - the cache Redis' circuit breaker and the cache's generation state, so that the api
//   never serves an order whose newer version the worker failed to write (and vice versa);
// - the relay's doorbell, so that the api wakes the relay of its own process after a
//   commit without a round trip through PostgreSQL (db/relay_wakeup.hpp).
#pragma once
#include "cache/order_cache.hpp"
#include "config/settings.hpp"
#include "core/circuit_breaker.hpp"
#include "core/doorbell.hpp"

namespace os::app {

struct ProcessShared {
  explicit ProcessShared(const config::RedisSettings& redis)
      : breaker("redis", redis.breaker_open) {}

  CircuitBreaker breaker;
  cache::CacheGeneration cache_generation;
  Doorbell relay_doorbell;
};

}  // namespace os::app
