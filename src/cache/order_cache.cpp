#include "cache/order_cache.hpp"

#include <charconv>

#include "redis/script.hpp"

namespace os::cache {
using redis::cmd;
using redis::Command;
using redis::RedisReply;
using redis::RedisUnavailable;

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

namespace {
// KEYS[1] key, ARGV[1] version, ARGV[2] value, ARGV[3] ttl seconds. Keeps the newest.
const redis::Script kPutNewest{
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then "
    "  local v = tonumber(string.match(cur, '^(%d+):')) "
    "  if v and v > tonumber(ARGV[1]) then return 0 end "
    "end "
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
    "return 1"};

std::optional<std::int64_t> leading_integer(std::string_view& text) {
  std::int64_t v = 0;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto [p, ec] = std::from_chars(text.data(), text.data() + colon, v);
  if (ec != std::errc{} || p != text.data() + colon) return std::nullopt;
  text.remove_prefix(colon + 1);
  return v;
}
}  // namespace

std::optional<CachedOrder> parse_cached_order(std::string_view value) {
  CachedOrder entry;
  const auto version = leading_integer(value);
  const auto user_id = version ? leading_integer(value) : std::nullopt;
  if (!user_id || value.empty()) return std::nullopt;
  entry.version = *version;
  entry.user_id = *user_id;
  entry.json = std::string(value);
  return entry;
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
    if (reply.is_error()) {
      metrics_.add("order_cache_errors_total", "");
    } else if (reply.type == RedisReply::Type::String) {
      found = parse_cached_order(reply.str);
    }
  } catch (const RedisUnavailable&) {
    metrics_.add("order_cache_errors_total", "");
  }
  metrics_.add(found ? "order_cache_hits_total" : "order_cache_misses_total", "");
  co_return found;
}

std::string OrderCache::value(std::int64_t version, std::int64_t user_id, const std::string& json) {
  return std::to_string(version) + ":" + std::to_string(user_id) + ":" + json;
}

awaitable<bool> OrderCache::stored(Write write, Command args) {
  co_await purge_stale();
  try {
    // An error reply (-OOM, -READONLY after a failover, -LOADING) is a failed write too.
    RedisReply reply;
    if (write == Write::KeepNewest) {
      reply = co_await kPutNewest.run(redis_, 1, std::move(args));
    } else {
      reply = co_await redis_.command(args);
    }
    if (!reply.is_error()) co_return true;
  } catch (const RedisUnavailable&) {
  }
  metrics_.add("order_cache_errors_total", "");
  co_return false;
}

awaitable<void> OrderCache::put(const std::string& order_id, std::int64_t version,
                                std::int64_t user_id, const std::string& json, bool after_change) {
  const auto k = key(order_id);
  const auto ok = co_await stored(
      Write::KeepNewest,
      cmd(k, std::to_string(version), value(version, user_id, json), std::to_string(ttl_.count())));
  // A fill after a miss leaves nothing outdated behind; a failed write after a change may.
  if (!ok && after_change) stale_.add(k);
}

awaitable<void> OrderCache::put_created(const domain::Order& order, const std::string& json) {
  // NX: whatever Redis already holds for a new order's key was written after its creation,
  // so it is this version or a newer one (the worker's).
  co_await stored(Write::Plain, cmd("SET", key(order.id), value(order.version, order.user_id, json),
                                    "EX", std::to_string(ttl_.count()), "NX"));
}

}  // namespace os::cache
