// new_order consumer: turns each event into one process_order task, exactly once in
// effect (inbox table), acking only after the task is enqueued. While PostgreSQL or the
// task-queue Redis is down it keeps its deliveries unacked and waits (taking no more than
// the prefetch), however long; malformed events go to the dead-letter queue at once, with
// the reason; other failures go through the retry queue a bounded number of times, each
// message by itself (a batch that fails for another reason than an outage is split).
//
// Runs as a supervised duty (core/supervisor.hpp); the deliveries of a batch that met an
// outage stay unacked across passes and are tried again after the loop's backoff.
#pragma once
#include <memory>
#include <vector>

#include "config/settings.hpp"
#include "core/dependency_health.hpp"
#include "core/failure.hpp"
#include "core/metrics.hpp"
#include "core/periodic.hpp"
#include "db/inbox_repository.hpp"
#include "events/broker_session.hpp"
#include "tasks/task_queue.hpp"

namespace os::events {

class NewOrderConsumer {
 public:
  NewOrderConsumer(const config::RabbitSettings& settings, db::InboxRepository& inbox,
                   tasks::TaskQueue& queue, Metrics& metrics);

  // Until stopped; unacked deliveries go back to the queue when the connection closes.
  awaitable<void> run();

 private:
  struct Pending {
    amqp::Delivery delivery;
    domain::NewOrderEvent event;
  };

  // One round: takes deliveries into the batch (waiting up to a poll for the first when
  // it is empty), then handles the batch.
  awaitable<void> pass();
  // Valid deliveries join `batch_`; malformed ones are dead-lettered at once.
  void admit(amqp::Delivery delivery);
  // Handles `batch_` in one transaction and one Redis round trip. A dependency outage
  // leaves the batch unacked for the next pass and rethrows. Any other failure of a batch
  // of several sends its messages through again one by one, so one message that cannot be
  // recorded never takes the others with it.
  awaitable<void> handle_batch();
  // Records `pending` in one transaction (enqueueing the new ones) and acks them; the
  // error, if that failed (nothing acked then).
  awaitable<std::exception_ptr> record(const std::vector<Pending>& pending);
  void acknowledge(const std::vector<Pending>& handled,
                   const std::vector<domain::NewOrderEvent>& fresh);
  // A message that failed alone: dead-lettered if it can never succeed, else retried.
  void settle_failed(const Pending& pending, const Failure& failure);
  void retry_later(const Pending& pending, const std::string& reason);
  void dead_letter(const amqp::Delivery& delivery, const std::string& reason);
  // Sets events_dead_letter_queue_depth, at most every few seconds.
  void report_dead_letters();

  const config::RabbitSettings& settings_;
  db::InboxRepository& inbox_;
  tasks::TaskQueue& queue_;
  Metrics& metrics_;
  BrokerSession broker_;
  // Retries are published on their own connection: waiting for publisher confirms on the
  // consuming connection would swallow deliveries that arrive meanwhile.
  BrokerSession publisher_;
  std::vector<Pending> batch_;  // taken, not acked yet
  DependencyHealth health_{"consumer"};
  Every dead_letter_check_{std::chrono::seconds(10)};  // the dead-letter queue depth gauge
};

void describe_consumer_metrics(Metrics& metrics);

}  // namespace os::events
