#include "api/known_users.hpp"

#include <boost/asio/this_coro.hpp>
#include <charconv>

#include "core/dependency_health.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "db/pg_connection.hpp"
#include "domain/uuid.hpp"

namespace os::api {

bool KnownUsers::contains(std::int64_t user_id) {
  const auto now = Clock::now();
  if (!trusted(now)) return false;
  auto& s = shard(user_id);
  std::lock_guard lock(s.mutex);
  const auto it = s.expiry.find(user_id);
  return it != s.expiry.end() && it->second > now;
}

void KnownUsers::remember(std::int64_t user_id, std::uint64_t generation) {
  const auto now = Clock::now();
  if (!trusted(now)) return;
  auto& s = shard(user_id);
  std::lock_guard lock(s.mutex);
  // Under the shard's lock: a forget() that moved the generation on erases after us.
  if (generation_.load(std::memory_order_acquire) != generation) return;
  if (s.expiry.size() >= kMaxPerShard) s.expiry.clear();  // bound memory; refills on demand
  s.expiry[user_id] = now + ttl_;
}

void KnownUsers::forget(std::int64_t user_id) {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  auto& s = shard(user_id);
  std::lock_guard lock(s.mutex);
  s.expiry.erase(user_id);
}

void KnownUsers::forget_all() {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    s.expiry.clear();
  }
}

void KnownUsers::vouch(Clock::time_point pinged_at) {
  trusted_until_.store((pinged_at + kTrustWindow).time_since_epoch().count(),
                       std::memory_order_release);
}

void KnownUsers::distrust() {
  trusted_until_.store(0, std::memory_order_release);
  forget_all();
}

namespace {

constexpr Millis kPingInterval{250};
constexpr Millis kPingTimeout{500};
constexpr std::string_view kPingPrefix = "ping:";

// A deletion's payload is the user id, or "*" when the table was truncated; pings of
// every listener (ours and other instances') go through the same channel.
void apply(KnownUsers& users, const std::string& payload) {
  if (payload.starts_with(kPingPrefix)) return;
  std::int64_t id = 0;
  const auto [p, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), id);
  if (ec == std::errc{} && p == payload.data() + payload.size()) {
    users.forget(id);
  } else {
    users.forget_all();
  }
}

// NOTIFYs `payload` and applies every notification until it comes back. PostgreSQL
// delivers notifications in commit order, so by then every deletion committed before the
// ping has been applied.
awaitable<void> ping(db::PgConnection& conn, KnownUsers& users, const std::string& payload) {
  const auto deadline = Clock::now() + kPingTimeout;
  const std::string sql = "SELECT pg_notify('users_deleted', '" + payload + "')";
  co_await conn.query(sql, kPingTimeout);
  for (bool echoed = false; !echoed;) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left <= Millis(0))
      throw db::PgUnavailable("the user deletion listener's ping did not return");
    for (const auto& p : co_await conn.wait_notifications(left)) {
      if (p == payload) echoed = true;
      apply(users, p);
    }
  }
}

}  // namespace

awaitable<void> follow_user_deletions(std::string conninfo, Millis connect_timeout,
                                      KnownUsers& users) {
  const auto ex = co_await asio::this_coro::executor;
  conninfo += " application_name='order-service user-deletions'";
  const std::string prefix = std::string(kPingPrefix) + domain::random_hex(8) + ":";
  DependencyHealth health("user deletion listener");
  std::unique_ptr<db::PgConnection> conn;
  std::uint64_t seq = 0;
  DutyLoop loop{.duty = "user deletion listener",
                .pass = [&]() -> awaitable<void> {
                  if (!conn) {
                    conn = co_await db::PgConnection::connect(ex, conninfo, connect_timeout);
                    co_await conn->query("LISTEN users_deleted", connect_timeout);
                  }
                  const auto pinged_at = Clock::now();
                  co_await ping(*conn, users, prefix + std::to_string(++seq));
                  users.vouch(pinged_at);
                  const auto next = pinged_at + kPingInterval;
                  while (Clock::now() < next && !co_await stop_requested()) {
                    const auto left = std::chrono::duration_cast<Millis>(next - Clock::now());
                    for (const auto& p : co_await conn->wait_notifications(left)) apply(users, p);
                  }
                },
                .on_failure =
                    [&](const Failure&) {
                      conn.reset();
                      users.distrust();
                    },
                .retry = {.base = Millis(100), .cap = Millis(1000)}};
  co_await supervise(std::move(loop), health);
  users.distrust();
}

}  // namespace os::api
