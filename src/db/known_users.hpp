// Users recently confirmed to exist, so a valid token costs no database round trip.
// Trusted only while a listener hears PostgreSQL's `users_deleted` notifications:
// a deleted user is forgotten at commit time and its tokens stop working.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/async.hpp"
#include "db/pg_connection.hpp"

namespace os::db {

class KnownUsers {
 public:
  explicit KnownUsers(std::chrono::seconds ttl) : ttl_(ttl) {}

  bool contains(std::int64_t user_id);
  void remember(std::int64_t user_id);
  void forget(std::int64_t user_id);
  // Untrusted (listener down): forget everything and answer `false` until trusted again.
  void set_trusted(bool trusted);

 private:
  std::chrono::seconds ttl_;
  std::atomic<bool> trusted_{false};
  std::mutex mutex_;
  std::unordered_map<std::int64_t, Clock::time_point> expiry_;
};

// LISTENs on `users_deleted` and keeps `users` in step; reconnects by itself.
awaitable<void> follow_user_deletions(std::string conninfo, Millis connect_timeout,
                                      KnownUsers& users, const std::atomic<bool>& stopping);

}  // namespace os::db
