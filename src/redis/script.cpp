#include "redis/script.hpp"

#include "security/digest.hpp"

namespace os::redis {

bool is_noscript_error(const RedisReply& reply) {
  return reply.is_error() && reply.str.starts_with("NOSCRIPT");
}

Script::Script(std::string body) : body_(std::move(body)), sha1_(security::sha1_hex(body_)) {}

Command Script::call(const char* verb, const std::string& script, int keys,
                     const Command& keys_and_args) const {
  Command c;
  c.reserve(3 + keys_and_args.size());
  c.emplace_back(verb);
  c.push_back(script);
  c.push_back(std::to_string(keys));
  c.insert(c.end(), keys_and_args.begin(), keys_and_args.end());
  return c;
}

awaitable<RedisReply> Script::run(RedisClient& redis, int keys,
                                  const Command& keys_and_args) const {
  auto reply = co_await redis.command(call("EVALSHA", sha1_, keys, keys_and_args));
  if (!is_noscript_error(reply)) co_return reply;
  co_return co_await redis.command(call("EVAL", body_, keys, keys_and_args));
}

}  // namespace os::redis
