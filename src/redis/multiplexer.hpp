// Every command one io thread sends to one Redis, on one connection: commands issued in
// the same loop turn leave in one write, and replies are handed back in order (Redis
// answers in order). Concurrent requests of a thread share the round trip instead of
// each paying its own (write, wake-up, read) on a connection of their own.
//
// Only for commands that do not block the connection or change its state (GET, SET,
// EVALSHA, PING, ...): never BLOCK, WAIT or SUBSCRIBE here. A MULTI … EXEC only whole, in
// one pipeline() call: its commands are encoded into the output together, so no other
// caller's command can fall inside the transaction. A reply that does not come
// in time breaks the connection for every command waiting on it (a later reply could
// no longer be matched); the next command reconnects.
#pragma once
#include <memory>

#include "redis/connection.hpp"

namespace os::redis {

class RedisMultiplexer {
 public:
  RedisMultiplexer(asio::any_io_executor ex, config::RedisEndpoint endpoint,
                   Millis connect_timeout);
  ~RedisMultiplexer();
  RedisMultiplexer(const RedisMultiplexer&) = delete;
  RedisMultiplexer& operator=(const RedisMultiplexer&) = delete;

  // Throws RedisUnavailable; error replies are returned.
  awaitable<std::vector<RedisReply>> pipeline(const std::vector<Command>& commands, Millis timeout);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace os::redis
