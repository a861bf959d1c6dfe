// Outbox relay: moves committed outbox rows to RabbitMQ with publisher confirms.
// Woken by LISTEN/NOTIFY within milliseconds of a commit; polls as a safety net.
#pragma once
#include <atomic>
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
  // Publishes one claimed batch; returns how many rows it claimed.
  awaitable<std::size_t> relay_batch();
  awaitable<void> wait_for_work(const std::atomic<bool>& stopping);
  awaitable<void> housekeeping();
  bool ensure_broker();
  // Services heartbeats on the idle broker connection; drops it if it is gone.
  void keep_broker_alive();

  const config::Settings& settings_;
  db::PgPool& pool_;
  db::OutboxRepository outbox_;
  db::RetentionRepository retention_;
  Metrics& metrics_;
  Topology topology_;
  std::unique_ptr<AmqpConnection> amqp_;
  std::unique_ptr<db::PgConnection> listener_;
  DependencyHealth health_{"relay"};
  Clock::time_point next_broker_attempt_{};
  Clock::time_point next_housekeeping_{};
};

void describe_relay_metrics(Metrics& metrics);

}  // namespace os::events
