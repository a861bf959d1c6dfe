// Token bucket per client address. With RATE_LIMIT_BACKEND=redis (the default) buckets
// live in Redis (one atomic script call) so every api instance shares them, and a local
// bucket takes over while Redis is down; with `memory` every process keeps its own.
#pragma once
#include <array>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/settings.hpp"
#include "http/rate_limit.hpp"
#include "redis/client.hpp"

namespace os::api {

using http::RateDecision;

// The in-process fallback; shared by all io threads of the process. Bounded: at most
// `max_buckets` clients are remembered (the least recently seen is forgotten first), and
// each request does O(1) work under one of 16 locks.
class LocalBuckets {
 public:
  explicit LocalBuckets(std::size_t max_buckets = 100'000)
      : per_shard_(max_buckets / kShards + 1) {}
  RateDecision take(const std::string& client, double capacity, double rate);

 private:
  static constexpr std::size_t kShards = 16;
  struct Bucket {
    double tokens;
    double updated;  // seconds, steady clock
    std::list<std::string>::iterator recency;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
    std::list<std::string> recency;  // most recently seen first
  };
  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

class RateLimiter final : public http::RateLimit {
 public:
  // `redis` is null for RATE_LIMIT_BACKEND=memory.
  RateLimiter(const config::RateLimitSettings& settings, redis::RedisClient* redis,
              LocalBuckets& local)
      : settings_(settings), redis_(redis), local_(local) {}

  awaitable<RateDecision> check(const std::string& client) override;
  double capacity() const override { return settings_.capacity; }

 private:
  RateDecision decide(double tokens_left, bool allowed) const;

  const config::RateLimitSettings& settings_;
  redis::RedisClient* redis_;
  LocalBuckets& local_;
};

}  // namespace os::api
