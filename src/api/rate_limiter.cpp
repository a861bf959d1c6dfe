#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

#include "domain/client_address.hpp"
#include "domain/clock.hpp"
#include "redis/script.hpp"

namespace os::api {
namespace {

// KEYS[1] bucket; ARGV capacity, refill/s. Returns {allowed, tokens left as text}.
const redis::Script kTokenBucket{R"lua(
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1]) or capacity
local ts = tonumber(data[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(tokens)}
)lua"};

}  // namespace

RateDecision LocalBuckets::take(const std::string& client, double capacity, double rate) {
  const double now = domain::monotonic_seconds();
  auto& shard = shards_[std::hash<std::string>{}(client) % kShards];
  std::lock_guard lock(shard.mutex);
  auto [it, inserted] = shard.buckets.try_emplace(client, Bucket{capacity, now, {}});
  if (inserted) {
    shard.recency.push_front(client);
    if (shard.buckets.size() > per_shard_) {  // forget the least recently seen client
      shard.buckets.erase(shard.recency.back());
      shard.recency.pop_back();
    }
  } else {
    shard.recency.erase(it->second.recency);
    shard.recency.push_front(client);
  }
  it->second.recency = shard.recency.begin();
  auto& b = it->second;
  b.tokens = std::min(capacity, b.tokens + (now - b.updated) * rate);
  b.updated = now;
  const bool allowed = b.tokens >= 1;
  if (allowed) b.tokens -= 1;
  RateDecision d;
  d.allowed = allowed;
  d.remaining = b.tokens;
  return d;
}

RateDecision RateLimiter::decide(double tokens_left, bool allowed) const {
  RateDecision d;
  d.allowed = allowed;
  d.remaining = std::floor(tokens_left);
  d.reset_seconds = (settings_.capacity - tokens_left) / settings_.refill_per_second;
  d.retry_after = allowed ? 0 : (1 - tokens_left) / settings_.refill_per_second;
  return d;
}

awaitable<RateDecision> RateLimiter::check(const std::string& client) {
  const auto bucket = domain::bucket_key(client);  // IPv6 clients by their /64
  if (redis_ != nullptr) {
    try {
      const auto args = redis::cmd("ratelimit:" + bucket, std::to_string(settings_.capacity),
                                   std::to_string(settings_.refill_per_second));
      const auto reply = co_await kTokenBucket.run(*redis_, 1, args);
      if (reply.type == redis::RedisReply::Type::Array && reply.elements.size() == 2) {
        co_return decide(std::strtod(reply.elements[1].str.c_str(), nullptr),
                         reply.elements[0].integer == 1);
      }
    } catch (const redis::RedisUnavailable&) {
      // fall through to the local bucket
    }
  }
  const auto local = local_.take(bucket, settings_.capacity, settings_.refill_per_second);
  co_return decide(local.remaining, local.allowed);
}

}  // namespace os::api
