// Wakes the outbox relays after an order's transaction has committed, instead of inside it.
//
// A NOTIFY inside a transaction takes a database-wide lock that PostgreSQL holds until the
// commit is flushed to disk, so every transaction that notifies commits one WAL flush after
// another: no group commit (pgbench, the order insert, 64 clients: 1.4k tps with the
// in-transaction NOTIFY, 2.9k without). Sessions made with `waking_relays_after_commit`
// tell the outbox trigger (migration 0006) not to notify; their owner calls
// `after_commit()` once the insert committed, and one NOTIFY goes out on a separate
// connection, coalesced: at most one in flight per io thread, plus one more for whatever
// committed meanwhile. Every other writer of outbox rows keeps the trigger's NOTIFY.
//
// When a relay runs in the same process (`order-service all`) and is working, it is woken
// in-process instead (core/doorbell.hpp): no NOTIFY transaction, no signal to every
// listening backend, no listener read. One relay publishes each row, so the relays of
// other processes need no wake-up; they poll.
//
// A wake-up that is lost (the process dies between commit and NOTIFY, the connection
// fails) only delays delivery to the relays' poll (OUTBOX_POLL_SECONDS): the row is
// committed either way.
#pragma once
#include <memory>

#include "config/settings.hpp"
#include "core/async.hpp"
#include "core/doorbell.hpp"

namespace os::db {

// `pg` for sessions that insert outbox rows and call RelayWakeup::after_commit themselves.
config::PostgresSettings waking_relays_after_commit(const config::PostgresSettings& pg);

class RelayWakeup {
 public:
  // One per io thread; `ex` is that thread's executor. `local_relay` is the doorbell of
  // a relay in this process: while one is attached, it is rung instead of a NOTIFY.
  RelayWakeup(asio::any_io_executor ex, const config::PostgresSettings& pg, Doorbell& local_relay);

  // Outbox rows committed: the relays are notified soon (never waits; never throws).
  void after_commit();

 private:
  struct State;
  static awaitable<void> notify_until_caught_up(std::shared_ptr<State> s);
  std::shared_ptr<State> state_;  // shared with the NOTIFY in flight, which may outlive this
  Doorbell& local_relay_;
};

}  // namespace os::db
