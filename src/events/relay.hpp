// Outbox relay: moves committed outbox rows to RabbitMQ with publisher confirms.
// Woken by LISTEN/NOTIFY within milliseconds of a commit; polls as a safety net. Rows are
// published as soon as they are claimed and marked published as their confirms arrive,
// so a new row never waits for an earlier batch's confirm (the claim's lease keeps other
// relays off rows in flight).
//
// Runs as a supervised duty (core/supervisor.hpp): a broker or database failure drops the
// broken connection, releases the rows in flight for an immediate retry, and the loop
// backs off before the next pass.
#pragma once
#include <map>
#include <memory>

#include "config/settings.hpp"
#include "core/dependency_health.hpp"
#include "core/doorbell.hpp"
#include "core/metrics.hpp"
#include "db/outbox_repository.hpp"
#include "events/broker_session.hpp"
#include "events/confirm_tracker.hpp"

namespace os::events {

class Relay {
 public:
  // `pool` carries the relay's claims and marks; `postgres` is used for its LISTEN
  // connection. `doorbell` (may be null) is rung by the api of the same process after a
  // commit; the relay attaches to it while it is working.
  Relay(const config::OutboxSettings& outbox, const config::RabbitSettings& rabbit,
        const config::PostgresSettings& postgres, db::PgPool& pool, Metrics& metrics,
        Doorbell* doorbell = nullptr);
  ~Relay();

  // Until stopped; then gives the confirms still outstanding a last chance.
  awaitable<void> run();

 private:
  // One round: settles confirms, publishes due rows, and when
  // there is nothing to do waits for a commit's NOTIFY (or the poll interval).
  awaitable<void> pass();
  // Claims due rows and publishes them without waiting for confirms; returns how many
  // it claimed.
  awaitable<std::size_t> publish_due();
  // Takes the confirms that arrived (waiting up to `wait` for the first) and marks those
  // rows published, or failed with backoff.
  awaitable<void> settle(Millis wait);
  // The broker connection failed with `error`: every row in flight (and `unsent`) is
  // released for an immediate retry, the connection dropped, and `error` rethrown.
  awaitable<void> drop_broker(std::exception_ptr error, std::vector<std::string> unsent);
  // Rows in flight on a connection that has been replaced (keep_alive drops a dead one
  // without an error reaching the loop): their outcome is unknown, and the new
  // connection's confirm tags start again at 1, so they are released to be published
  // again, never matched with the new connection's confirms.
  awaitable<void> release_lost_in_flight();
  // Releases `ids` and every row in flight (due again at once, counted as failed).
  awaitable<void> release_in_flight(std::vector<std::string> ids, const std::string& reason);
  awaitable<void> wait_for_work();
  // Whether a commit was announced (NOTIFY or doorbell) since the last look.
  bool woken();
  // Whether the api of this process rang since the last look.
  bool rung();
  // Attached while the relay works (LISTENing, broker connected), so the api of this
  // process rings it instead of notifying; detached on failure, so the api notifies.
  void attach_doorbell(const asio::any_io_executor& ex);
  void detach_doorbell();
  // Whether RabbitMQ blocks publishing on the current connection (connection.blocked, a
  // resource alarm); logs and reports a change of state once.
  bool publishing_blocked();
  void note_unblocked();
  awaitable<void> settle_before_stopping();

  const config::OutboxSettings& settings_;
  const config::RabbitSettings& rabbit_;
  const config::PostgresSettings& postgres_;
  db::OutboxRepository outbox_;
  Metrics& metrics_;
  BrokerSession broker_;
  ConfirmTracker in_flight_;  // published, not confirmed yet
  std::unique_ptr<db::PgConnection> listener_;
  Doorbell* doorbell_;
  bool doorbell_attached_ = false;
  DependencyHealth health_{"relay"};
  bool maybe_due_ = true;  // rows may be due: claim before waiting
  // RabbitMQ blocks our publishing (as last heard, on connection blocked_generation_).
  bool blocked_ = false;
  std::uint64_t blocked_generation_ = 0;
  Clock::time_point blocked_since_{};
  // Confirms are not due while the broker blocks us: the confirm timeout counts from here.
  Clock::time_point unblocked_at_{};
};

void describe_relay_metrics(Metrics& metrics);

}  // namespace os::events
