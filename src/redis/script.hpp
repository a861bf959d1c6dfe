// A Lua script called by its SHA1 (EVALSHA). With EVAL, Redis hashes the script's body
// and looks it up on every call (the order cache's script: ~28 µs per EVAL in Redis, of
// which ~2 µs is its GET and SET); EVALSHA sends 40 bytes instead and skips the hashing.
// A Redis that does not know the script (restarted, failed over to a replica, SCRIPT
// FLUSH) answers NOSCRIPT; the call is then sent again as EVAL, which also loads it.
#pragma once
#include <string>

#include "core/async.hpp"
#include "redis/client.hpp"

namespace os::redis {

class Script {
 public:
  explicit Script(std::string body);

  // EVALSHA with `keys` keys followed by their arguments (`keys_and_args`). Throws as
  // RedisClient::command does; error replies (other than NOSCRIPT) are returned.
  awaitable<RedisReply> run(RedisClient& redis, int keys, Command keys_and_args) const;

  const std::string& sha1() const { return sha1_; }

 private:
  std::string body_;
  std::string sha1_;  // lower-case hex, as Redis names scripts
};

}  // namespace os::redis
