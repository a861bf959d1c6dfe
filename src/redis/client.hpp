// Redis connections of one io thread, guarded by a (process-wide) circuit breaker.
#pragma once
#include <memory>

#include "core/circuit_breaker.hpp"
#include "core/connection_pool.hpp"
#include "redis/connection.hpp"
#include "redis/multiplexer.hpp"

namespace os::redis {

class RedisClient {
 public:
  // `breaker` may be null: then every call tries Redis (the task queue wants that).
  //
  // A pool of `pool_size` connections, one command (or pipeline) at a time on each: for
  // blocking commands (XREADGROUP BLOCK), i.e. the task queue.
  RedisClient(asio::any_io_executor ex, config::RedisEndpoint endpoint, int pool_size,
              Millis timeout, CircuitBreaker* breaker);
  // One connection shared by every caller (RedisMultiplexer): for the api's cache and
  // rate-limit calls, which never block the connection.
  RedisClient(asio::any_io_executor ex, config::RedisEndpoint endpoint, Millis timeout,
              CircuitBreaker* breaker);

  // Throws RedisUnavailable (also while the breaker is open). Error replies are returned.
  awaitable<RedisReply> command(const Command& args, std::optional<Millis> timeout = {});
  awaitable<std::vector<RedisReply>> pipeline(const std::vector<Command>& commands,
                                              std::optional<Millis> timeout = {});

  Millis timeout() const { return timeout_; }
  // Connected through Redis Sentinel: a primary with a replica that may take over.
  bool follows_sentinel() const { return endpoint_.uses_sentinel(); }

 private:
  awaitable<std::vector<RedisReply>> send(const std::vector<Command>& commands, Millis timeout);

  config::RedisEndpoint endpoint_;
  Millis timeout_;
  CircuitBreaker* breaker_;
  std::unique_ptr<ConnectionPool<RedisConnection>> pool_;
  std::unique_ptr<RedisMultiplexer> multiplexer_;
};

}  // namespace os::redis
