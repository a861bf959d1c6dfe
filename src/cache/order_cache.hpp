// Read-through cache of serialized orders in Redis. Best effort: every failure is a miss.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "cache/redis_client.hpp"
#include "core/metrics.hpp"

namespace os::cache {

struct CachedOrder {
  std::int64_t user_id = 0;  // kept beside the JSON so authorization needs no parsing
  std::string json;
};

class OrderCache {
 public:
  OrderCache(RedisClient& redis, std::chrono::seconds ttl, Metrics& metrics)
      : redis_(redis), ttl_(ttl), metrics_(metrics) {}

  awaitable<std::optional<CachedOrder>> get(const std::string& order_id);
  // Writes after a change overwrite; fills after a miss use `only_if_absent`, so a
  // slow read can never replace a newer representation written meanwhile.
  awaitable<void> put(const std::string& order_id, std::int64_t user_id, const std::string& json,
                      bool only_if_absent = false);

  static std::string key(const std::string& order_id) { return "orders:" + order_id; }

 private:
  RedisClient& redis_;
  std::chrono::seconds ttl_;
  Metrics& metrics_;
};

}  // namespace os::cache
