// Outbox relay: moves committed outbox rows to RabbitMQ with publisher confirms.
// Woken by LISTEN/NOTIFY within milliseconds of a commit; polls as a safety net. Rows are
// published as soon as they are claimed and marked published as their confirms arrive,
// so a new row never waits for an earlier batch's confirm (the claim's lease keeps other
// relays off rows in flight).
#pragma once
#include <atomic>
#include <map>
#include <memory>

#include "config/settings.hpp"
#include "core/dependency_health.hpp"
#include "core/metrics.hpp"
#include "db/outbox_repository.hpp"
#include "db/retention_repository.hpp"
#include "events/amqp_client.hpp"
#include "events/topology.hpp"

namespace os::events {

class Relay {
 public:
  Relay(const config::Settings& settings, db::PgPool& pool, Metrics& metrics);

  awaitable<void> run(const std::atomic<bool>& stopping);

 private:
  // Claims due rows and publishes them without waiting for confirms; returns how many
  // it claimed.
  awaitable<std::size_t> publish_due();
  // Takes the confirms that arrived (waiting up to `wait` for the first) and marks those
  // rows published, or failed with backoff.
  awaitable<void> settle(Millis wait);
  // The broker connection is lost: every row in flight (and `unsent`) is released for an
  // immediate retry.
  awaitable<void> drop_broker(std::exception_ptr error, std::vector<std::string> unsent);
  awaitable<void> wait_for_work(const std::atomic<bool>& stopping);
  awaitable<void> housekeeping();
  bool ensure_broker();
  // Services heartbeats on the idle broker connection; drops it if it is gone.
  void keep_broker_alive();

  const config::Settings& settings_;
  db::OutboxRepository outbox_;
  db::RetentionRepository retention_;
  Metrics& metrics_;
  Topology topology_;
  std::unique_ptr<AmqpConnection> amqp_;
  struct InFlight {
    db::OutboxEvent event;
    Clock::time_point sent;
  };
  std::map<std::uint64_t, InFlight> in_flight_;  // by confirm tag, oldest first
  std::unique_ptr<db::PgConnection> listener_;
  DependencyHealth health_{"relay"};
  Clock::time_point next_broker_attempt_{};
  Backoff broker_backoff_{kBrokerRetryBase, kBrokerRetryCap};  // jittered, between rounds of nodes
  Clock::time_point next_housekeeping_{};
};

void describe_relay_metrics(Metrics& metrics);

}  // namespace os::events
