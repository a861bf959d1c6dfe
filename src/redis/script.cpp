#include "redis/script.hpp"

#include "security/digest.hpp"

namespace os::redis {

Script::Script(std::string body) : body_(std::move(body)), sha1_(security::sha1_hex(body_)) {}

awaitable<RedisReply> Script::run(RedisClient& redis, int keys, Command keys_and_args) const {
  Command c;
  c.reserve(3 + keys_and_args.size());
  c.emplace_back("EVALSHA");
  c.push_back(sha1_);
  c.push_back(std::to_string(keys));
  for (auto& a : keys_and_args) c.push_back(std::move(a));
  auto reply = co_await redis.command(c);
  if (!reply.is_error_code("NOSCRIPT")) co_return reply;
  c[0] = "EVAL";  // the same call with the body, which also loads the script
  c[1] = body_;
  co_return co_await redis.command(c);
}

}  // namespace os::redis
