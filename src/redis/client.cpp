#include "redis/client.hpp"

namespace os::redis {

RedisClient::RedisClient(asio::any_io_executor ex, config::RedisEndpoint endpoint, int pool_size,
                         Millis timeout, CircuitBreaker* breaker)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      breaker_(breaker),
      pool_(std::make_unique<ConnectionPool<RedisConnection>>(ex, pool_size, timeout, [this, ex]() {
        return RedisConnection::connect(ex, endpoint_, timeout_);
      })) {}

RedisClient::RedisClient(asio::any_io_executor ex, config::RedisEndpoint endpoint, Millis timeout,
                         CircuitBreaker* breaker)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      breaker_(breaker),
      multiplexer_(std::make_unique<RedisMultiplexer>(std::move(ex), endpoint_, timeout_)) {}

awaitable<std::vector<RedisReply>> RedisClient::send(const std::vector<Command>& commands,
                                                     Millis timeout) {
  if (multiplexer_) co_return co_await multiplexer_->pipeline(commands, timeout);
  auto lease = co_await pool_->acquire<RedisUnavailable>();
  co_return co_await lease->pipeline(commands, timeout);
}

awaitable<std::vector<RedisReply>> RedisClient::pipeline(const std::vector<Command>& commands,
                                                         std::optional<Millis> timeout) {
  if (breaker_ != nullptr && !breaker_->allow()) {
    throw RedisUnavailable("Redis skipped: circuit breaker open");
  }
  try {
    auto replies = co_await send(commands, timeout.value_or(timeout_));
    if (breaker_ != nullptr) breaker_->on_success();
    co_return replies;
  } catch (const RedisUnavailable& e) {
    if (breaker_ != nullptr) breaker_->on_failure(e.what());
    throw;
  }
}

awaitable<RedisReply> RedisClient::command(const Command& args, std::optional<Millis> timeout) {
  const std::vector<Command> one(1, args);
  auto replies = co_await pipeline(one, timeout);
  co_return std::move(replies.front());
}

}  // namespace os::redis
