// Redis connections of one io thread, guarded by a (process-wide) circuit breaker.
#pragma once
#include "cache/circuit_breaker.hpp"
#include "cache/redis_connection.hpp"
#include "core/connection_pool.hpp"

namespace os::cache {

class RedisClient {
 public:
  // `breaker` may be null: then every call tries Redis (the task queue wants that).
  RedisClient(asio::any_io_executor ex, config::RedisEndpoint endpoint, int pool_size,
              Millis timeout, CircuitBreaker* breaker);

  // Throws RedisUnavailable (also while the breaker is open). Error replies are returned.
  awaitable<RedisReply> command(const Command& args, std::optional<Millis> timeout = {});
  awaitable<std::vector<RedisReply>> pipeline(const std::vector<Command>& commands,
                                              std::optional<Millis> timeout = {});

  Millis timeout() const { return timeout_; }

 private:
  config::RedisEndpoint endpoint_;
  Millis timeout_;
  CircuitBreaker* breaker_;
  ConnectionPool<RedisConnection> pool_;
};

}  // namespace os::cache
