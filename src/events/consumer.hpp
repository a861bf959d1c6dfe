// new_order consumer: turns each event into one process_order task, exactly once in
// effect (inbox table), acking only after the task is enqueued. While PostgreSQL or the
// task-queue Redis is down it keeps its deliveries unacked and waits (taking no more than
// the prefetch), however long; malformed events go to the dead-letter queue at once, with
// the reason; other failures go through the retry queue a bounded number of times.
#pragma once
#include <atomic>
#include <memory>

#include "config/settings.hpp"
#include "core/dependency_health.hpp"
#include "core/metrics.hpp"
#include "db/inbox_repository.hpp"
#include "events/amqp_client.hpp"
#include "events/topology.hpp"
#include "tasks/task_queue.hpp"

namespace os::events {

class NewOrderConsumer {
 public:
  NewOrderConsumer(const config::Settings& settings, db::InboxRepository& inbox,
                   tasks::TaskQueue& queue, Metrics& metrics);

  awaitable<void> run(const std::atomic<bool>& stopping);

 private:
  struct Pending {
    Delivery delivery;
    db::InboxEvent event;
  };

  bool ensure_broker();
  // Valid deliveries join `batch`; malformed ones are dead-lettered at once.
  void admit(Delivery delivery, std::vector<Pending>& batch);
  // Handles the batch in one transaction and one Redis round trip; while a dependency is
  // down, waits (keeping the connection alive, admitting new deliveries) and tries again.
  awaitable<void> handle_batch(std::vector<Pending> batch, const std::atomic<bool>& stopping);
  void acknowledge(const std::vector<Pending>& batch, const std::vector<db::InboxEvent>& fresh);
  void retry_later(const Pending& pending, const std::string& reason);
  void dead_letter(const Delivery& delivery, const std::string& reason);
  AmqpConnection& publisher();
  void keep_publisher_alive();
  // Sets events_dead_letter_queue_depth, at most every few seconds.
  void report_dead_letters();

  const config::Settings& settings_;
  db::InboxRepository& inbox_;
  tasks::TaskQueue& queue_;
  Metrics& metrics_;
  Topology topology_;
  std::unique_ptr<AmqpConnection> amqp_;
  // Retries are published on their own connection: waiting for publisher confirms on the
  // consuming connection would swallow deliveries that arrive meanwhile.
  std::unique_ptr<AmqpConnection> retry_publisher_;
  DependencyHealth health_{"consumer"};
  Backoff broker_backoff_{kBrokerRetryBase, kBrokerRetryCap};  // jittered, between rounds of nodes
  Clock::time_point next_dead_letter_check_{};
};

void describe_consumer_metrics(Metrics& metrics);

}  // namespace os::events
