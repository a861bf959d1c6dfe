// What the api handlers of one io thread work with.
#pragma once
#include "cache/order_cache.hpp"
#include "config/settings.hpp"
#include "core/metrics.hpp"
#include "core/thread_pool.hpp"
#include "db/order_repository.hpp"
#include "db/user_repository.hpp"
#include "http/static_files.hpp"
#include "security/jwt.hpp"

namespace os::api {

struct ApiContext {
  const config::Settings& settings;
  const security::JwtCodec& jwt;
  BlockingPool& hashing;  // Argon2 runs here, never on an io thread
  Metrics& metrics;
  db::PgPool& pg;
  redis::RedisClient& redis;
  db::UserRepository& users;
  db::OrderRepository& orders;
  cache::OrderCache& order_cache;
  http::StaticFiles& swagger_assets;
};

}  // namespace os::api
