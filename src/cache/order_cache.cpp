#include "cache/order_cache.hpp"

#include <charconv>

namespace os::cache {

awaitable<std::optional<CachedOrder>> OrderCache::get(const std::string& order_id) {
  std::optional<CachedOrder> found;
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
  try {
    co_await redis_.command(set);
  } catch (const RedisUnavailable&) {
    metrics_.add("order_cache_errors_total", "");
  }
}

}  // namespace os::cache
