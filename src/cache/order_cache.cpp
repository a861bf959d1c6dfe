#include "cache/order_cache.hpp"

#include <charconv>

namespace os::cache {

void StaleKeys::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  keys_.insert(key);
  count_.store(keys_.size(), std::memory_order_release);
}

bool StaleKeys::contains(const std::string& key) {
  std::lock_guard lock(mutex_);
  return keys_.contains(key);
}

std::vector<std::string> StaleKeys::snapshot() {
  std::lock_guard lock(mutex_);
  return {keys_.begin(), keys_.end()};
}

void StaleKeys::remove(const std::vector<std::string>& keys) {
  std::lock_guard lock(mutex_);
  for (const auto& k : keys) keys_.erase(k);
  count_.store(keys_.size(), std::memory_order_release);
}

awaitable<void> OrderCache::purge_stale() {
  if (stale_.empty()) co_return;
  auto keys = stale_.snapshot();
  Command del{"DEL"};
  del.insert(del.end(), keys.begin(), keys.end());
  try {
    co_await redis_.command(del);
    stale_.remove(keys);
  } catch (const RedisUnavailable&) {
    // still down: keep them for the next call
  }
}

awaitable<std::optional<CachedOrder>> OrderCache::get(const std::string& order_id) {
  std::optional<CachedOrder> found;
  co_await purge_stale();
  if (!stale_.empty() && stale_.contains(key(order_id))) {
    metrics_.add("order_cache_misses_total", "");
    co_return found;
  }
  try {
    const auto reply = co_await redis_.command(cmd("GET", key(order_id)));
    // Value layout: "<user_id>:<order json>".
    const auto colon = reply.str.find(':');
    if (reply.type == RedisReply::Type::String && colon != std::string::npos) {
      CachedOrder entry;
      auto [p, ec] = std::from_chars(reply.str.data(), reply.str.data() + colon, entry.user_id);
      if (ec == std::errc{} && p == reply.str.data() + colon) {
        entry.json = reply.str.substr(colon + 1);
        found = std::move(entry);
      }
    }
  } catch (const RedisUnavailable&) {
    metrics_.add("order_cache_errors_total", "");
  }
  metrics_.add(found ? "order_cache_hits_total" : "order_cache_misses_total", "");
  co_return found;
}

awaitable<void> OrderCache::put(const std::string& order_id, std::int64_t user_id,
                                const std::string& json, bool only_if_absent) {
  auto set = cmd("SET", key(order_id), std::to_string(user_id) + ":" + json, "EX",
                 std::to_string(ttl_.count()));
  if (only_if_absent) set.emplace_back("NX");
  co_await purge_stale();
  try {
    co_await redis_.command(set);
  } catch (const RedisUnavailable&) {
    metrics_.add("order_cache_errors_total", "");
    // A fill that failed leaves nothing outdated behind; a failed write after a change may.
    if (!only_if_absent) stale_.add(key(order_id));
  }
}

}  // namespace os::cache
