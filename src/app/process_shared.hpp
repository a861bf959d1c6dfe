// State that every role of one process shares, built once in main:
// - the cache Redis' circuit breaker and stale keys, so that the api never serves an order
//   whose newer version the worker failed to write (and vice versa);
// - the relay's hand-over, so that the api gives the relay of its own process new outbox
//   rows without a round trip through PostgreSQL (db/outbox_handoff.hpp).
#pragma once
#include "cache/order_cache.hpp"
#include "config/settings.hpp"
#include "core/circuit_breaker.hpp"
#include "db/outbox_handoff.hpp"

namespace os::app {

struct ProcessShared {
  explicit ProcessShared(const config::Settings& settings)
      : breaker("redis", settings.redis.breaker_open), relay_handoff(settings.outbox.lease) {}

  CircuitBreaker breaker;
  cache::StaleKeys stale_keys;
  db::OutboxHandoff relay_handoff;
};

}  // namespace os::app
