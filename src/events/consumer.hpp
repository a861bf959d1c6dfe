// new_order consumer: turns each event into one process_order task, exactly once in
// effect (inbox table), acking only after the task is enqueued.
#pragma once
#include <atomic>
#include <memory>

#include "config/settings.hpp"
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
  bool ensure_broker();
  // Handles every delivery that is already waiting, up to the prefetch, in one
  // transaction and one Redis round trip.
  awaitable<void> handle_batch(std::vector<Delivery> deliveries);
  void retry_later(const Delivery& delivery, const std::string& event_id,
                   const std::string& reason);

  const config::Settings& settings_;
  db::InboxRepository& inbox_;
  tasks::TaskQueue& queue_;
  Metrics& metrics_;
  Topology topology_;
  std::unique_ptr<AmqpConnection> amqp_;
  // Retries are published on their own connection: waiting for publisher confirms on the
  // consuming connection would swallow deliveries that arrive meanwhile.
  std::unique_ptr<AmqpConnection> retry_publisher_;
  bool broker_down_logged_ = false;
};

void describe_consumer_metrics(Metrics& metrics);

}  // namespace os::events
