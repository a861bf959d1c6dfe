// Read-through cache of serialized orders in Redis. Best effort: every failure is a miss.
//
// Generations: every value carries the cache generation it was written in, and Redis holds
// the current one under kGenerationKey. A value is served only if its generation is the
// current one. A write after a change that fails (Redis down, breaker open, error reply)
// may leave the previous state in Redis; the process then advances the generation before
// it serves anything again, which makes every older value unreachable at once (they expire
// by their TTL). So the process keeps O(1) state however long an outage lasts.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/metrics.hpp"
#include "domain/order.hpp"
#include "redis/client.hpp"

namespace os::cache {

struct CachedOrder {
  std::int64_t generation = 0;  // the cache generation it was written in
  std::int64_t version = 0;     // the row's version (orders.version) this JSON shows
  std::int64_t user_id = 0;     // kept beside the JSON so authorization needs no parsing
  std::string json;
};

// Value layout in Redis: "g<generation>:<version>:<user_id>:<order json>". nullopt for
// anything else (the leading "g" makes the older "<version>:<user_id>:<json>" layout, and
// this one for a process that expects that layout, a miss, never a misread user id).
std::optional<CachedOrder> parse_cached_order(std::string_view value);
std::string cached_order_value(std::int64_t generation, std::int64_t version, std::int64_t user_id,
                               std::string_view json);

// What a GET's one round trip (MGET generation key, order key) found.
struct Lookup {
  enum class Kind {
    Hit,           // a value of the current generation
    Miss,          // no value, an unreadable one, or one of an older generation
    NoGeneration,  // the generation key is gone (evicted, Redis restarted): a miss
  };
  Kind kind = Kind::Miss;
  std::int64_t generation = 0;  // the current one (0 for NoGeneration)
  std::optional<CachedOrder> entry;
};
Lookup look_up(std::optional<std::string_view> generation, std::optional<std::string_view> value);

// The cache's state in one process, shared by its io threads and its worker: one counter of
// failed writes after a change, how many of them an advance of the generation covers, and
// the last generation seen. O(1), whatever happens during an outage.
class CacheGeneration {
 public:
  // A write after a change failed: Redis may hold an older state of the order under the
  // current generation, so the process serves nothing until the generation has advanced.
  void write_failed() { failed_.fetch_add(1, std::memory_order_acq_rel); }
  bool must_advance() const {
    return covered_.load(std::memory_order_acquire) < failed_.load(std::memory_order_acquire);
  }
  // Starts an advance; nullopt if one is in flight in this process (the caller then reads
  // nothing from the cache). The ticket is what the advance covers once it succeeded:
  // failures noted after it started need another one.
  std::optional<std::uint64_t> begin_advance();
  void advanced(std::uint64_t ticket, std::int64_t generation);
  void advance_failed() { advancing_.store(false, std::memory_order_release); }

  // The last current generation the process saw (0: none yet). Only put_created relies
  // on it: a value written with an older one is never served, which is always safe.
  std::int64_t known() const { return known_.load(std::memory_order_acquire); }
  void learn(std::int64_t generation) { known_.store(generation, std::memory_order_release); }

 private:
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> covered_{0};
  std::atomic<bool> advancing_{false};
  std::atomic<std::int64_t> known_{0};
};

class OrderCache {
 public:
  // Holds the current generation (milliseconds since the epoch when it began, by Redis'
  // clock, or one more than the previous generation if that is larger).
  static constexpr std::string_view kGenerationKey = "orders:generation";

  OrderCache(redis::RedisClient& redis, std::chrono::seconds ttl, Metrics& metrics,
             CacheGeneration& generation)
      : redis_(redis), ttl_(ttl), metrics_(metrics), generation_(generation) {}

  // One round trip (MGET of the generation and the order's key), except right after a
  // failed write (the generation advances first; the read is a miss).
  awaitable<std::optional<CachedOrder>> get(const std::string& order_id);
  // Stores the representation of `version` in the current generation unless Redis already
  // holds a newer one of that generation (one atomic script call), so writers racing each
  // other can never put an older state back.
  // `after_change`: this write follows a change of the row; if it fails, Redis may still
  // hold the previous state, so the generation must advance before the next read.
  awaitable<void> put(const std::string& order_id, std::int64_t version, std::int64_t user_id,
                      const std::string& json, bool after_change);
  // Stores a just-created order unless Redis already holds its key (SET NX, no script):
  // anything there was written after the creation, so it is this version or a newer one.
  // Written with the last generation the process saw.
  awaitable<void> put_created(const domain::Order& order, const std::string& json);

  static std::string key(const std::string& order_id) { return "orders:" + order_id; }

 private:
  // True when nothing stops the process from serving the cache; otherwise tries to advance
  // the generation (once at a time per process) and returns false.
  awaitable<bool> settled();
  awaitable<void> initialise_generation();
  // Runs the keep-newest script (and learns the generation it wrote in); false (and
  // counted as a cache error) if Redis did not take it.
  awaitable<bool> put_newest(const std::string& order_id, std::int64_t version,
                             std::int64_t user_id, const std::string& json);

  redis::RedisClient& redis_;
  std::chrono::seconds ttl_;
  Metrics& metrics_;
  CacheGeneration& generation_;
};

}  // namespace os::cache
