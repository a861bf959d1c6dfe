#include "db/known_users.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "core/logging.hpp"
#include "core/sleep.hpp"

namespace os::db {

bool KnownUsers::contains(std::int64_t user_id) {
  if (!trusted_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(mutex_);
  const auto it = expiry_.find(user_id);
  return it != expiry_.end() && it->second > Clock::now();
}

void KnownUsers::remember(std::int64_t user_id) {
  if (!trusted_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mutex_);
  if (expiry_.size() > 100'000) expiry_.clear();  // bound memory; refills on demand
  expiry_[user_id] = Clock::now() + ttl_;
}

void KnownUsers::forget(std::int64_t user_id) {
  std::lock_guard lock(mutex_);
  expiry_.erase(user_id);
}

void KnownUsers::set_trusted(bool trusted) {
  if (!trusted) {
    trusted_.store(false, std::memory_order_release);
    std::lock_guard lock(mutex_);
    expiry_.clear();
    return;
  }
  trusted_.store(true, std::memory_order_release);
}

awaitable<void> follow_user_deletions(std::string conninfo, Millis connect_timeout,
                                      KnownUsers& users, const std::atomic<bool>& stopping) {
  const auto ex = co_await asio::this_coro::executor;
  while (!stopping) {
    std::string failure;
    try {
      auto conn = co_await PgConnection::connect(ex, conninfo, connect_timeout);
      co_await conn->query("LISTEN users_deleted", connect_timeout);
      users.set_trusted(true);
      while (!stopping) {
        for (const auto& payload : co_await conn->wait_notifications(Millis(500))) {
          std::int64_t id = 0;
          const auto [p, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), id);
          if (ec == std::errc{} && p == payload.data() + payload.size()) {
            users.forget(id);
          } else {
            users.set_trusted(false);  // "*": table truncated
            users.set_trusted(true);
          }
        }
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    users.set_trusted(false);
    if (!failure.empty()) {
      log::debug("user deletion listener down; checking users in the database",
                 {{"error", failure}});
      co_await sleep_for(Millis(1000));
    }
  }
}

}  // namespace os::db
