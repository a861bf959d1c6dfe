#include "app/services.hpp"

#include <limits>
#include <thread>

#include "api/routes.hpp"
#include "core/logging.hpp"
#include "security/password.hpp"

namespace os::app {
namespace {

// Password hashing leaves at least one core to the I/O threads.
std::size_t hashing_threads() {
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1u, cores - 1);
}

// Argon2 runs at the lowest priority: a login storm takes the CPU the io threads leave
// over, not the io threads' share (their requests' latency stays put; logins slow down
// and their bounded queue answers the excess 503).
constexpr int kHashingNice = 19;

// Queue bound: what the hashing threads get through in about a second, so that an
// accepted login waits ~1 s at most. Measured once, with the decoy hash that unknown
// emails are checked against (so it is computed here, off the io threads).
std::size_t hashing_capacity(std::size_t threads) {
  const auto started = Clock::now();
  (void)security::decoy_hash();
  const auto ms =
      std::max<std::int64_t>(1, std::chrono::duration_cast<Millis>(Clock::now() - started).count());
  return std::max<std::size_t>(2, threads * static_cast<std::size_t>(1000 / ms));
}

}  // namespace

ProcessServices::ProcessServices(const config::Settings& s, Metrics& m, ProcessShared& shared)
    : settings(s),
      metrics(m),
      jwt(s.secret_key, std::chrono::duration_cast<std::chrono::seconds>(s.access_token_ttl),
          s.secret_key_fallbacks),
      hashing(hashing_threads(), std::numeric_limits<std::size_t>::max(), kHashingNice),
      redis_breaker(shared.breaker),
      cors(s.cors),
      swagger_assets(s.http.swagger_ui_dir.empty()
                         ? std::string(ORDER_SERVICE_SOURCE_DIR) + "/node_modules/swagger-ui-dist"
                         : s.http.swagger_ui_dir),
      known_users(s.auth_user_cache),
      cache_generation(shared.cache_generation),
      relay_doorbell(shared.relay_doorbell) {
  hashing.set_capacity(hashing_capacity(hashing.threads()));
  log::info("password hashing ready", {{"threads", static_cast<std::int64_t>(hashing.threads())},
                                       {"queue", static_cast<std::int64_t>(hashing.capacity())}});
}

ApiThreadServices::ApiThreadServices(ProcessServices& p, asio::io_context& io)
    : pg(io.get_executor(), db::waking_relays_after_commit(p.settings.postgres),
         db::Waiting::Bounded),
      relay_wakeup(io.get_executor(), p.settings.postgres, p.relay_doorbell),
      redis(io.get_executor(), p.settings.redis.cache, p.settings.redis.timeout, &p.redis_breaker),
      order_cache(redis, std::chrono::ceil<std::chrono::seconds>(p.settings.redis.orders_ttl),
                  p.metrics, p.cache_generation),
      users(pg),
      orders(pg, relay_wakeup),
      context{p.settings, p.jwt, p.hashing, p.metrics,   pg,
              redis,      users, orders,    order_cache, p.swagger_assets},
      authenticator(p.jwt, users, p.known_users),
      limiter(p.settings.rate_limit.enabled
                  ? std::optional<api::RateLimiter>(
                        std::in_place, p.settings.rate_limit,
                        p.settings.rate_limit.backend == config::RateLimitBackend::Redis ? &redis
                                                                                         : nullptr,
                        p.local_buckets)
                  : std::nullopt),
      middleware(router, authenticator, p.cors, limiter ? &*limiter : nullptr, p.metrics,
                 p.settings.rate_limit.trusted_proxies, p.settings.http.max_in_flight) {
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
