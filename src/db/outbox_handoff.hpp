// Outbox rows handed by the api to the relay of its own process (`order-service all`),
// so that a new order's event is published without a claim.
//
// While the relay works (attached: LISTENing, broker connected), the api inserts the
// outbox row already leased (attempts 1, next_attempt_at = now() + OUTBOX_LEASE_SECONDS,
// as a claim would leave it) and, after the commit, hands the event over with its
// payload. The relay publishes what it is handed as it publishes what it claims: marked
// published on the confirm, released on a broker failure. No claim statement runs, and
// no database round trip sits between the commit and the publish.
//
// Why no row is lost: a leased row is invisible to claims only for the lease. A row whose
// hand-over never reaches a publish (the process dies, the relay fails and stays down)
// is claimed, like any claimed row whose relay died, by a relay when its lease ends; one
// that is published twice (a relay that comes back after the lease ran out) is
// deduplicated by the consumer's inbox. While the relay does not work, or when it is
// `kMaxWaiting` events behind, rows are inserted due at once and the relays are woken as
// before (db/relay_wakeup.hpp), so what waits here stays bounded.
#pragma once
#include <chrono>
#include <mutex>
#include <vector>

#include "core/doorbell.hpp"
#include "db/outbox_repository.hpp"

namespace os::db {

class OutboxHandoff {
 public:
  // The doorbell's reasons: committed rows that need a claim, and rows handed over.
  static constexpr unsigned kClaim = 1;
  static constexpr unsigned kHanded = 2;
  static constexpr std::size_t kMaxWaiting = 1000;

  explicit OutboxHandoff(std::chrono::seconds lease) : lease_(lease) {}

  // The relay's side of the doorbell: it attaches while it works (core/doorbell.hpp).
  Doorbell& doorbell() { return doorbell_; }

  // Api, before the insert: the lease the new row gets (0 s: none, it is due at once and
  // the relays are woken after the commit). Any thread, never blocks for long.
  std::chrono::seconds lease_for_new_row() const;
  // Api, after the commit of a row inserted with a lease: the relay publishes it.
  void hand_over(OutboxEvent event);

  // Relay: the events handed over since the last take, oldest first.
  std::vector<OutboxEvent> take();

 private:
  const std::chrono::seconds lease_;
  Doorbell doorbell_;
  mutable std::mutex mutex_;
  std::vector<OutboxEvent> waiting_;
};

}  // namespace os::db
