// Users recently confirmed to exist, so a valid token costs no database round trip.
// Trusted only while the deletion listener (follow_user_deletions) proves, at least every
// kTrustWindow, that it has applied every deletion PostgreSQL committed before its last
// ping: a deleted user's token stops working within 1 s, however the listener fails.
//
// The race where a deletion's NOTIFY arrives between the database check and remember()
// (the user would be remembered again) cannot happen: remember() takes the generation
// read before the check, and any forget in between moves the generation on.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/async.hpp"

namespace os::api {

class KnownUsers {
 public:
  // How long one successful listener ping keeps the cache trusted.
  static constexpr Millis kTrustWindow{750};

  explicit KnownUsers(Millis ttl) : ttl_(ttl) {}

  // Read before asking the database whether the user exists; pass it to remember().
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  bool contains(std::int64_t user_id);
  // Remembers the user unless anything was forgotten since `generation`.
  void remember(std::int64_t user_id, std::uint64_t generation);
  void forget(std::int64_t user_id);
  void forget_all();

  // Every deletion committed before `pinged_at` has been applied: trusted until
  // pinged_at + kTrustWindow.
  void vouch(Clock::time_point pinged_at);
  // The listener lost its connection: trust nothing from now on.
  void distrust();

 private:
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::int64_t, Clock::time_point> expiry;
  };
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxPerShard = 100'000 / kShards;
  Shard& shard(std::int64_t user_id) {
    return shards_[static_cast<std::uint64_t>(user_id) % kShards];
  }
  bool trusted(Clock::time_point now) const {
    return now.time_since_epoch().count() < trusted_until_.load(std::memory_order_acquire);
  }

  Millis ttl_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<Clock::rep> trusted_until_{0};
  std::array<Shard, kShards> shards_;
};

// Until stopped (a supervised duty, core/supervisor.hpp): LISTENs on `users_deleted`,
// applies each deletion to `users`, and every 250 ms pings itself through the same NOTIFY
// queue to vouch for the cache; reconnects by itself, distrusting the cache meanwhile.
awaitable<void> follow_user_deletions(std::string conninfo, Millis connect_timeout,
                                      KnownUsers& users);

}  // namespace os::api
