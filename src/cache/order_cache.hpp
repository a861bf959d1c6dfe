// Read-through cache of serialized orders in Redis. Best effort: every failure is a miss.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "domain/order.hpp"
#include "redis/client.hpp"

namespace os::cache {

struct CachedOrder {
  std::int64_t version = 0;  // the row's version (orders.version) this JSON shows
  std::int64_t user_id = 0;  // kept beside the JSON so authorization needs no parsing
  std::string json;
};

// Value layout in Redis: "<version>:<user_id>:<order json>". nullopt for anything else.
std::optional<CachedOrder> parse_cached_order(std::string_view value);

// Keys whose write failed while Redis was unreachable: Redis may still hold an older
// version, so they are never served and are deleted as soon as Redis answers again.
// Shared by the io threads of a process.
class StaleKeys {
 public:
  void add(const std::string& key);
  bool contains(const std::string& key);
  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  std::vector<std::string> snapshot();
  void remove(const std::vector<std::string>& keys);

 private:
  std::mutex mutex_;
  std::set<std::string> keys_;
  std::atomic<std::size_t> count_{0};
};

class OrderCache {
 public:
  OrderCache(redis::RedisClient& redis, std::chrono::seconds ttl, Metrics& metrics,
             StaleKeys& stale)
      : redis_(redis), ttl_(ttl), metrics_(metrics), stale_(stale) {}

  awaitable<std::optional<CachedOrder>> get(const std::string& order_id);
  // Stores the representation of `version` unless Redis already holds a newer one (one
  // atomic script call), so writers racing each other can never put an older state back.
  // `after_change`: this write follows a change of the row; if it fails, Redis may still
  // hold the previous state, so the key is marked stale until Redis answers again.
  awaitable<void> put(const std::string& order_id, std::int64_t version, std::int64_t user_id,
                      const std::string& json, bool after_change);
  // Stores a just-created order unless Redis already holds its key (SET NX, no script):
  // anything there was written after the creation, so it is this version or a newer one.
  awaitable<void> put_created(const domain::Order& order, const std::string& json);

  static std::string key(const std::string& order_id) { return "orders:" + order_id; }

 private:
  enum class Write { KeepNewest, Plain };
  awaitable<void> purge_stale();
  // Runs a write (KeepNewest: the script's keys and arguments; Plain: a command); false
  // (and counted as a cache error) if Redis did not take it.
  awaitable<bool> stored(Write write, redis::Command args);
  static std::string value(std::int64_t version, std::int64_t user_id, const std::string& json);

  redis::RedisClient& redis_;
  std::chrono::seconds ttl_;
  Metrics& metrics_;
  StaleKeys& stale_;
};

}  // namespace os::cache
