#include "events/consumer.hpp"

#include <cmath>
#include <set>

#include "core/capture.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "domain/clock.hpp"
#include "domain/trace.hpp"

namespace os::events {
namespace {
// How long a pass waits for the first delivery (then heartbeats and gauges are serviced).
constexpr Millis kPoll{200};
// How often the dead-letter queue's depth is read for /metrics (and its alert).

}  // namespace

void describe_consumer_metrics(Metrics& m) {
  m.describe("events_consumed_total", Metrics::Type::Counter,
             "new_order events by outcome (enqueued, duplicate, deferred, retried, "
             "dead_lettered).");
  m.describe("events_dead_letter_queue_depth", Metrics::Type::Gauge,
             "Messages waiting in the new_order dead-letter queue (read every 10 s).");
}

NewOrderConsumer::NewOrderConsumer(const config::RabbitSettings& settings,
                                   db::InboxRepository& inbox, tasks::TaskQueue& queue,
                                   Metrics& metrics)
    : settings_(settings),
      inbox_(inbox),
      queue_(queue),
      metrics_(metrics),
      broker_("consumer", settings,
              [this](amqp::AmqpConnection& connection) {
                connection.consume(broker_.topology().queue, settings_.prefetch);
              }),
      publisher_("consumer (retry publisher)", settings) {}

void NewOrderConsumer::report_dead_letters() {
  if (!dead_letter_check_.due(Clock::now())) return;
  try {
    metrics_.set(
        "events_dead_letter_queue_depth", "",
        static_cast<double>(publisher_.connection().message_count(broker_.topology().dlq)));
  } catch (const amqp::AmqpError&) {
    publisher_.drop();  // reopened when next needed; the gauge keeps its last value
  }
}

void NewOrderConsumer::dead_letter(const amqp::Delivery& d, const std::string& reason) {
  // Published with the reason, confirmed, and only then acked: never in neither queue.
  amqp::OutgoingMessage m{"",
                          broker_.topology().dlq,
                          d.body,
                          d.message_id,
                          d.type.empty() ? "new_order" : d.type,
                          d.retry_count,
                          std::nullopt};
  m.headers = d.headers;
  m.headers.erase("x-retry-count");
  m.headers["x-dead-letter-reason"] = reason;
  m.headers["x-dead-lettered-at"] = std::to_string(domain::unix_ms());
  const auto result = publisher_.connection().publish_confirmed({m});
  if (!result.front().confirmed()) {
    throw amqp::AmqpError("RabbitMQ did not take the dead letter: " + result.front().reason);
  }
  broker_.connection().ack(d.delivery_tag);
  log::error("new_order message dead-lettered",
             {{"message_id", d.message_id}, {"reason", reason}, {"body", d.body.substr(0, 200)}});
  metrics_.add("events_consumed_total", label("outcome", "dead_lettered"));
}

void NewOrderConsumer::retry_later(const Pending& p, const std::string& reason) {
  const auto& d = p.delivery;
  if (d.retry_count >= settings_.consumer_max_retries) {
    dead_letter(d, "failed after " + std::to_string(d.retry_count) + " retries: " + reason);
    return;
  }
  const auto delay_ms = static_cast<std::int64_t>(1000.0 * settings_.consumer_retry_base_seconds *
                                                  std::pow(2.0, d.retry_count));
  // Confirmed before the ack: the event is never in neither queue.
  amqp::OutgoingMessage retry{"",
                              broker_.topology().retry_queue,
                              d.body,
                              d.message_id.empty() ? p.event.event_id : d.message_id,
                              d.type.empty() ? "new_order" : d.type,
                              d.retry_count + 1,
                              delay_ms};
  if (d.headers.contains("traceparent")) retry.headers["traceparent"] = d.headers.at("traceparent");
  const auto result = publisher_.connection().publish_confirmed({retry});
  if (!result.front().confirmed()) {
    throw amqp::AmqpError("RabbitMQ did not take the retry message: " + result.front().reason);
  }
  broker_.connection().ack(d.delivery_tag);
  log::warn("event handling failed; retry scheduled", {{"event_id", p.event.event_id},
                                                       {"retry", d.retry_count + 1},
                                                       {"delay_ms", delay_ms},
                                                       {"error", reason}});
  metrics_.add("events_consumed_total", label("outcome", "retried"));
}

void NewOrderConsumer::admit(amqp::Delivery d) {
  std::string why;
  auto event = domain::parse_new_order_event(d.body, d.message_id, &why);
  if (!event) {
    dead_letter(d, why);
    return;
  }
  const auto trace = domain::parse_traceparent(
      d.headers.contains("traceparent") ? d.headers.at("traceparent") : std::string());
  event->trace_id = trace ? trace->trace_id : std::string();
  batch_.push_back({std::move(d), std::move(*event)});
}

void NewOrderConsumer::acknowledge(const std::vector<Pending>& handled,
                                   const std::vector<domain::NewOrderEvent>& fresh) {
  std::set<std::string> new_ids;
  for (const auto& f : fresh) new_ids.insert(f.event_id);
  for (const auto& p : handled) {
    broker_.connection().ack(p.delivery.delivery_tag);
    const bool is_new = new_ids.contains(p.event.event_id);
    metrics_.add("events_consumed_total", label("outcome", is_new ? "enqueued" : "duplicate"));
    log::info(is_new ? "task enqueued for event" : "duplicate event ignored",
              {{"event_id", p.event.event_id},
               {"order_id", p.event.order_id},
               {"trace_id", p.event.trace_id}});
  }
}

awaitable<std::exception_ptr> NewOrderConsumer::record(const std::vector<Pending>& pending) {
  const std::function<awaitable<void>(const std::vector<domain::NewOrderEvent>&)> enqueue =
      [this](const std::vector<domain::NewOrderEvent>& fresh) -> awaitable<void> {
    co_await queue_.enqueue_process_orders(fresh);
  };
  std::vector<domain::NewOrderEvent> events;
  events.reserve(pending.size());
  for (const auto& p : pending) events.push_back(p.event);
  std::vector<domain::NewOrderEvent> fresh;
  auto record = [&]() -> awaitable<void> { fresh = co_await inbox_.record_new(events, enqueue); };
  const auto error = co_await capture(record());
  if (!error) {
    health_.all_up();
    acknowledge(pending, fresh);
  }
  co_return error;
}

void NewOrderConsumer::settle_failed(const Pending& pending, const Failure& failure) {
  if (failure.kind == FailureKind::Permanent) {
    dead_letter(pending.delivery, failure.reason);
  } else {
    retry_later(pending, failure.reason);
  }
}

awaitable<void> NewOrderConsumer::handle_batch() {
  if (batch_.empty()) co_return;
  auto error = co_await record(batch_);
  if (!error) {
    batch_.clear();
    co_return;
  }
  auto failure = classify(error);
  if (failure.kind == FailureKind::Transient) {
    // Kept unacked (so the prefetch stops the broker from sending more than it allows)
    // and tried again after the loop's backoff, however long the outage lasts.
    metrics_.add("events_consumed_total", label("outcome", "deferred"),
                 static_cast<double>(batch_.size()));
    std::rethrow_exception(error);
  }
  auto batch = std::move(batch_);
  batch_.clear();
  if (batch.size() == 1) {
    settle_failed(batch.front(), failure);
    co_return;
  }
  // Not an outage: one message of the batch may be what the statement (or the enqueue)
  // refused. Each goes again alone, so the good ones go on at once and only a message
  // that fails by itself is retried or dead-lettered, with its own reason.
  log::warn("event batch failed; handling its messages one by one",
            {{"events", static_cast<std::int64_t>(batch.size())}, {"error", failure.reason}});
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::vector<Pending> one(1, batch[i]);
    error = co_await record(one);
    if (!error) continue;
    failure = classify(error);
    if (failure.kind == FailureKind::Transient) {
      // An outage meanwhile: this message and the rest wait, unacked, as a batch does.
      batch_.assign(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(i)),
                    std::make_move_iterator(batch.end()));
      metrics_.add("events_consumed_total", label("outcome", "deferred"),
                   static_cast<double>(batch_.size()));
      std::rethrow_exception(error);
    }
    settle_failed(batch[i], failure);
  }
}

awaitable<void> NewOrderConsumer::pass() {
  auto& connection = broker_.connection();  // throws while RabbitMQ is unreachable
  if (batch_.empty()) co_await broker_.wait_readable(kPoll);
  // Only what has arrived (the broker sends no more than the prefetch unacked); also
  // answers heartbeats while a batch waits out an outage.
  for (auto d = connection.next_delivery(Millis(0)); d; d = connection.next_delivery(Millis(0))) {
    admit(std::move(*d));
  }
  publisher_.keep_alive();
  report_dead_letters();
  co_await handle_batch();
}

awaitable<void> NewOrderConsumer::run() {
  log::info("consumer started", {{"queue", broker_.topology().queue}});
  co_await tasks::warn_if_tasks_can_be_lost(queue_);
  DutyLoop loop{
      .duty = "consumer",
      .pass = [this] { return pass(); },
      .on_failure =
          [this](const Failure& failure) {
            if (failure.kind == FailureKind::Transient && !failure.is_down(Dependency::RabbitMQ)) {
              return;  // the batch waits, unacked, on a live connection
            }
            // Its unacked deliveries go back to the queue when it closes.
            broker_.drop();
            publisher_.drop();
            batch_.clear();
          },
      .retry = {.base = kBrokerRetryBase, .cap = kBrokerRetryCap},
      .proves = {Dependency::RabbitMQ}};
  co_await supervise(std::move(loop), health_);
}

}  // namespace os::events
