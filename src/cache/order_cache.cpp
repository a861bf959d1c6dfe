#include "cache/order_cache.hpp"

#include <charconv>

#include "core/logging.hpp"
#include "redis/script.hpp"

namespace os::cache {
using redis::cmd;
using redis::Command;
using redis::RedisReply;
using redis::RedisUnavailable;

namespace {
// Milliseconds by Redis' clock (one clock for every process), inside a script: Redis 7
// replicates a script's effects, so TIME before a write is allowed.
#define OS_REDIS_NOW_MS           \
  "local t = redis.call('TIME') " \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

// KEYS[1] the generation key; ARGV[1] "1" to advance, "0" to set it only if it is missing
// (or not a positive integer in decimal digits, as look_up judges it).
// The new generation is max(current + 1, now): a generation key lost to eviction or a
// restart starts again at `now`, later than any generation before it, so an older
// generation (and the values written in it) can never come back.
const redis::Script kGeneration{
    "local cur = redis.call('GET', KEYS[1]) "
    "cur = cur and string.match(cur, '^%d+$') and tonumber(cur) "
    "if cur and cur <= 0 then cur = nil end "
    "if cur and ARGV[1] == '0' then return cur end " OS_REDIS_NOW_MS
    "local new = now "
    "if cur and cur >= new then new = cur + 1 end "
    "redis.call('SET', KEYS[1], string.format('%d', new)) "
    "return new"};

// KEYS[1] the order's key, KEYS[2] the generation key; ARGV[1] version, ARGV[2]
// "<version>:<user_id>:<json>", ARGV[3] ttl seconds. Writes in the current generation
// (starting one if the key is missing, as kGeneration does) unless the key holds a newer
// version of that generation; a value of an older generation is replaced whatever its
// version. Returns the generation.
const redis::Script kPutNewest{
    "local g = redis.call('GET', KEYS[2]) "
    "g = g and string.match(g, '^%d+$') and tonumber(g) "
    "if g and g <= 0 then g = nil end "
    "if not g then " OS_REDIS_NOW_MS
    "  g = now "
    "  redis.call('SET', KEYS[2], string.format('%d', g)) "
    "end "
    "local gs = string.format('%d', g) "
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then "
    "  local cg, cv = string.match(cur, '^g(%d+):(%d+):') "
    "  if cg == gs and tonumber(cv) > tonumber(ARGV[1]) then return g end "
    "end "
    "redis.call('SET', KEYS[1], 'g' .. gs .. ':' .. ARGV[2], 'EX', ARGV[3]) "
    "return g"};
#undef OS_REDIS_NOW_MS

std::optional<std::int64_t> whole_integer(std::string_view text) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> leading_integer(std::string_view& text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto v = whole_integer(text.substr(0, colon));
  if (v) text.remove_prefix(colon + 1);
  return v;
}

std::optional<std::string_view> bulk_string(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::String) return std::nullopt;
  return std::string_view(reply.str);
}

std::string body(std::int64_t version, std::int64_t user_id, std::string_view json) {
  std::string out = std::to_string(version);
  out += ':';
  out += std::to_string(user_id);
  out += ':';
  out += json;
  return out;
}
}  // namespace

std::optional<CachedOrder> parse_cached_order(std::string_view value) {
  if (!value.starts_with('g')) return std::nullopt;
  value.remove_prefix(1);
  CachedOrder entry;
  const auto generation = leading_integer(value);
  const auto version = generation ? leading_integer(value) : std::nullopt;
  const auto user_id = version ? leading_integer(value) : std::nullopt;
  if (!user_id || value.empty()) return std::nullopt;
  entry.generation = *generation;
  entry.version = *version;
  entry.user_id = *user_id;
  entry.json = std::string(value);
  return entry;
}

std::string cached_order_value(std::int64_t generation, std::int64_t version, std::int64_t user_id,
                               std::string_view json) {
  std::string out(1, 'g');
  out += std::to_string(generation);
  out += ':';
  out += body(version, user_id, json);
  return out;
}

Lookup look_up(std::optional<std::string_view> generation, std::optional<std::string_view> value) {
  Lookup out;
  const auto current = generation ? whole_integer(*generation) : std::nullopt;
  if (!current || *current <= 0) {
    out.kind = Lookup::Kind::NoGeneration;
    return out;
  }
  out.generation = *current;
  if (value) {
    auto entry = parse_cached_order(*value);
    if (entry && entry->generation == *current) {
      out.kind = Lookup::Kind::Hit;
      out.entry = std::move(entry);
    }
  }
  return out;
}

std::optional<std::uint64_t> CacheGeneration::begin_advance() {
  if (advancing_.exchange(true, std::memory_order_acq_rel)) return std::nullopt;
  return failed_.load(std::memory_order_acquire);
}

void CacheGeneration::advanced(std::uint64_t ticket, std::int64_t generation) {
  auto covered = covered_.load(std::memory_order_acquire);
  while (covered < ticket &&
         !covered_.compare_exchange_weak(covered, ticket, std::memory_order_acq_rel)) {
  }
  learn(generation);
  advancing_.store(false, std::memory_order_release);
}

awaitable<bool> OrderCache::settled() {
  if (!generation_.must_advance()) co_return true;
  const auto ticket = generation_.begin_advance();
  if (!ticket) co_return false;  // another coroutine of this process is advancing it
  std::optional<std::int64_t> advanced;
  try {
    const auto reply = co_await kGeneration.run(redis_, 1, cmd(kGenerationKey, "1"));
    if (reply.type == RedisReply::Type::Integer && reply.integer > 0) advanced = reply.integer;
  } catch (const RedisUnavailable&) {
  }
  if (!advanced) {
    generation_.advance_failed();
    metrics_.add("order_cache_errors_total", "");
    co_return false;
  }
  generation_.advanced(*ticket, *advanced);
  log::info("order cache generation advanced: values written before are never served",
            {{"generation", *advanced}});
  // Served only if no write failed meanwhile (that one needs another advance).
  co_return !generation_.must_advance();
}

awaitable<void> OrderCache::initialise_generation() {
  try {
    const auto reply = co_await kGeneration.run(redis_, 1, cmd(kGenerationKey, "0"));
    if (reply.type == RedisReply::Type::Integer && reply.integer > 0) {
      generation_.learn(reply.integer);
    }
  } catch (const RedisUnavailable&) {
  }
}

awaitable<std::optional<CachedOrder>> OrderCache::get(const std::string& order_id) {
  std::optional<CachedOrder> found;
  if (co_await settled()) {
    try {
      const auto reply = co_await redis_.command(cmd("MGET", kGenerationKey, key(order_id)));
      if (reply.type != RedisReply::Type::Array || reply.elements.size() != 2) {
        metrics_.add("order_cache_errors_total", "");  // an error reply (-LOADING, …)
      } else {
        auto lookup = look_up(bulk_string(reply.elements[0]), bulk_string(reply.elements[1]));
        if (lookup.kind == Lookup::Kind::NoGeneration) {
          co_await initialise_generation();
        } else {
          generation_.learn(lookup.generation);
          found = std::move(lookup.entry);
        }
      }
    } catch (const RedisUnavailable&) {
      metrics_.add("order_cache_errors_total", "");
    }
  }
  metrics_.add(found ? "order_cache_hits_total" : "order_cache_misses_total", "");
  co_return found;
}

awaitable<bool> OrderCache::put_newest(const std::string& order_id, std::int64_t version,
                                       std::int64_t user_id, const std::string& json) {
  try {
    // An error reply (-OOM, -READONLY after a failover, -LOADING) is a failed write too.
    const auto reply =
        co_await kPutNewest.run(redis_, 2,
                                cmd(key(order_id), kGenerationKey, std::to_string(version),
                                    body(version, user_id, json), std::to_string(ttl_.count())));
    if (reply.type == RedisReply::Type::Integer && reply.integer > 0) {
      generation_.learn(reply.integer);
      co_return true;
    }
  } catch (const RedisUnavailable&) {
  }
  metrics_.add("order_cache_errors_total", "");
  co_return false;
}

awaitable<void> OrderCache::put(const std::string& order_id, std::int64_t version,
                                std::int64_t user_id, const std::string& json, bool after_change) {
  // A process that only writes (a standalone worker) advances here after an outage.
  (void)co_await settled();
  const auto ok = co_await put_newest(order_id, version, user_id, json);
  // A fill after a miss leaves nothing outdated behind; a failed write after a change may.
  if (!ok && after_change) generation_.write_failed();
}

awaitable<void> OrderCache::put_created(const domain::Order& order, const std::string& json) {
  const auto generation = generation_.known();
  if (generation == 0) {
    // No generation seen yet (a process that just started): the script reads it.
    (void)co_await put_newest(order.id, order.version, order.user_id, json);
    co_return;
  }
  // NX: whatever Redis already holds for a new order's key was written after its creation,
  // so it is this version or a newer one (the worker's). A generation that has moved on
  // since makes the value unreachable: a miss, never a stale read.
  try {
    const auto reply = co_await redis_.command(cmd(
        "SET", key(order.id), cached_order_value(generation, order.version, order.user_id, json),
        "EX", std::to_string(ttl_.count()), "NX"));
    if (!reply.is_error()) co_return;
  } catch (const RedisUnavailable&) {
  }
  metrics_.add("order_cache_errors_total", "");
}

}  // namespace os::cache
