#include "app/services.hpp"

#include <thread>

#include "api/routes.hpp"

namespace os::app {

ProcessServices::ProcessServices(const config::Settings& s, Metrics& m, SharedCache& shared)
    : settings(s),
      metrics(m),
      jwt(s.secret_key, std::chrono::duration_cast<std::chrono::seconds>(s.access_token_ttl)),
      hashing(2),
      redis_breaker(shared.breaker),
      cors(s.cors),
      swagger_assets(s.http.swagger_ui_dir.empty()
                         ? std::string(ORDER_SERVICE_SOURCE_DIR) + "/node_modules/swagger-ui-dist"
                         : s.http.swagger_ui_dir),
      known_users(s.auth_user_cache),
      stale_cache_keys(shared.stale_keys) {}

ApiThreadServices::ApiThreadServices(ProcessServices& p, asio::io_context& io)
    : pg(io.get_executor(), p.settings.postgres),
      redis(io.get_executor(), p.settings.redis.cache, p.settings.redis.pool_size,
            p.settings.redis.timeout, &p.redis_breaker),
      order_cache(redis, p.settings.redis.orders_ttl, p.metrics, p.stale_cache_keys),
      users(pg),
      orders(pg),
      context{p.settings, p.jwt, p.hashing, p.metrics,   pg,
              redis,      users, orders,    order_cache, p.swagger_assets},
      authenticator(p.jwt, users, p.known_users),
      limiter(p.settings.rate_limit.enabled
                  ? std::optional<http::RateLimiter>(
                        std::in_place, p.settings.rate_limit,
                        p.settings.rate_limit.backend == "redis" ? &redis : nullptr,
                        p.local_buckets)
                  : std::nullopt),
      pipeline(router, authenticator, p.cors, limiter ? &*limiter : nullptr, p.metrics,
               p.settings.rate_limit.trusted_proxies) {
  api::add_routes(router, context);
}

void describe_metrics(Metrics& m) {
  http::describe_http_metrics(m);
  m.describe("order_cache_hits_total", Metrics::Type::Counter, "Order reads served from Redis.");
  m.describe("order_cache_misses_total", Metrics::Type::Counter,
             "Order reads that went to PostgreSQL.");
  m.describe("order_cache_errors_total", Metrics::Type::Counter,
             "Redis cache calls that failed or were skipped by the circuit breaker.");
  m.describe("redis_circuit_breaker_state", Metrics::Type::Gauge, "0 closed, 1 open, 2 half-open.");
}

}  // namespace os::app
