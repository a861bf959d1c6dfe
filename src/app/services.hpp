// Object graph of the api role: process-wide services plus one set per io thread.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "api/authenticator.hpp"
#include "api/context.hpp"
#include "api/known_users.hpp"
#include "api/rate_limiter.hpp"
#include "app/process_shared.hpp"
#include "core/circuit_breaker.hpp"
#include "http/cors.hpp"
#include "http/middleware.hpp"
#include "http/router.hpp"

namespace os::app {

struct ProcessServices {
  ProcessServices(const config::Settings& settings, Metrics& metrics, ProcessShared& shared);

  const config::Settings& settings;
  Metrics& metrics;
  security::JwtCodec jwt;
  BlockingPool hashing;
  CircuitBreaker& redis_breaker;
  api::LocalBuckets local_buckets;
  http::Cors cors;
  http::StaticFiles swagger_assets;
  api::KnownUsers known_users;
  cache::CacheGeneration& cache_generation;
  Doorbell& relay_doorbell;
};

struct ApiThreadServices {
  ApiThreadServices(ProcessServices& process, asio::io_context& io);

  db::PgPool pg;
  db::RelayWakeup relay_wakeup;
  redis::RedisClient redis;
  cache::OrderCache order_cache;
  db::UserRepository users;
  db::OrderRepository orders;
  api::ApiContext context;
  api::JwtAuthenticator authenticator;
  std::optional<api::RateLimiter> limiter;
  http::Router router;
  http::MiddlewareChain middleware;
};

void describe_metrics(Metrics& metrics);

}  // namespace os::app
