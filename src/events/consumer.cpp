#include "events/consumer.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <set>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "domain/trace.hpp"
#include "domain/uuid.hpp"

namespace os::events {
namespace {
constexpr Millis kPoll{200};
constexpr Millis kDependencyRetryBase{250};
constexpr Millis kDependencyRetryCap{5000};
constexpr std::size_t kMaxEventIdLength = 200;
// How often the dead-letter queue's depth is read for /metrics (and its alert).
constexpr std::chrono::seconds kDeadLetterCheckInterval{10};

struct NewOrderEvent {
  std::string event_id;
  std::string order_id;
};

// nullopt for anything that can never succeed: not JSON, no valid order_id, no id.
std::optional<NewOrderEvent> parse_event(const Delivery& d) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(d.body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& obj = value.as_object();
  NewOrderEvent e;
  if (const auto* id = obj.if_contains("order_id"); id && id->is_string()) {
    e.order_id = std::string(id->as_string());
  }
  if (const auto* id = obj.if_contains("event_id"); id && id->is_string()) {
    e.event_id = std::string(id->as_string());
  }
  if (e.event_id.empty()) e.event_id = d.message_id;
  if (!domain::is_uuid(e.order_id) || e.event_id.empty() || e.event_id.size() > kMaxEventIdLength) {
    return std::nullopt;
  }
  return e;
}

}  // namespace

void describe_consumer_metrics(Metrics& m) {
  m.describe("events_consumed_total", Metrics::Type::Counter,
             "new_order events by outcome (enqueued, duplicate, deferred, retried, "
             "dead_lettered).");
  m.describe("events_dead_letter_queue_depth", Metrics::Type::Gauge,
             "Messages waiting in the new_order dead-letter queue (read every 10 s).");
}

NewOrderConsumer::NewOrderConsumer(const config::Settings& settings, db::InboxRepository& inbox,
                                   tasks::TaskQueue& queue, Metrics& metrics)
    : settings_(settings),
      inbox_(inbox),
      queue_(queue),
      metrics_(metrics),
      topology_(topology_for(settings.rabbit)) {}

bool NewOrderConsumer::ensure_broker() {
  if (amqp_) return true;
  try {
    auto conn = connect_declared(settings_.rabbit, topology_);
    conn->consume(topology_.queue, settings_.rabbit.prefetch);
    amqp_ = std::move(conn);
    log::info("consumer connected to RabbitMQ",
              {{"queue", topology_.queue}, {"node", amqp_->node().text()}});
    health_.up("rabbitmq");
    broker_backoff_.reset();
    return true;
  } catch (const AmqpError&) {
    health_.down(classify(std::current_exception()));
    return false;
  }
}

AmqpConnection& NewOrderConsumer::publisher() {
  if (!retry_publisher_) retry_publisher_ = std::make_unique<AmqpConnection>(settings_.rabbit);
  return *retry_publisher_;
}

void NewOrderConsumer::keep_publisher_alive() {
  if (!retry_publisher_) return;
  try {
    retry_publisher_->keep_alive();
  } catch (const AmqpError&) {
    retry_publisher_.reset();  // reopened when next needed
  }
}

void NewOrderConsumer::report_dead_letters() {
  const auto now = Clock::now();
  if (now < next_dead_letter_check_) return;
  next_dead_letter_check_ = now + kDeadLetterCheckInterval;
  try {
    metrics_.set("events_dead_letter_queue_depth", "",
                 static_cast<double>(publisher().message_count(topology_.dlq)));
  } catch (const AmqpError&) {
    retry_publisher_.reset();  // reopened when next needed; the gauge keeps its last value
  }
}

void NewOrderConsumer::dead_letter(const Delivery& d, const std::string& reason) {
  // Published with the reason, confirmed, and only then acked: never in neither queue.
  OutgoingMessage m{"",
                    topology_.dlq,
                    d.body,
                    d.message_id,
                    d.type.empty() ? "new_order" : d.type,
                    d.retry_count,
                    std::nullopt};
  m.headers = d.headers;
  m.headers.erase("x-retry-count");
  m.headers["x-dead-letter-reason"] = reason;
  m.headers["x-dead-lettered-at"] = std::to_string(tasks::unix_ms());
  const auto result = publisher().publish_confirmed({m});
  if (!result.front().confirmed()) {
    throw AmqpError("RabbitMQ did not take the dead letter: " + result.front().reason);
  }
  amqp_->ack(d.delivery_tag);
  log::error("new_order message dead-lettered",
             {{"message_id", d.message_id}, {"reason", reason}, {"body", d.body.substr(0, 200)}});
  metrics_.add("events_consumed_total", label("outcome", "dead_lettered"));
}

void NewOrderConsumer::retry_later(const Pending& p, const std::string& reason) {
  const auto& d = p.delivery;
  if (d.retry_count >= settings_.rabbit.consumer_max_retries) {
    dead_letter(d, "failed after " + std::to_string(d.retry_count) + " retries: " + reason);
    return;
  }
  const auto delay_ms = static_cast<std::int64_t>(
      1000.0 * settings_.rabbit.consumer_retry_base_seconds * std::pow(2.0, d.retry_count));
  // Confirmed before the ack: the event is never in neither queue.
  OutgoingMessage retry{"",
                        topology_.retry_queue,
                        d.body,
                        d.message_id.empty() ? p.event.event_id : d.message_id,
                        d.type.empty() ? "new_order" : d.type,
                        d.retry_count + 1,
                        delay_ms};
  if (d.headers.contains("traceparent")) retry.headers["traceparent"] = d.headers.at("traceparent");
  const auto result = publisher().publish_confirmed({retry});
  if (!result.front().confirmed()) {
    throw AmqpError("RabbitMQ did not take the retry message: " + result.front().reason);
  }
  amqp_->ack(d.delivery_tag);
  log::warn("event handling failed; retry scheduled", {{"event_id", p.event.event_id},
                                                       {"retry", d.retry_count + 1},
                                                       {"delay_ms", delay_ms},
                                                       {"error", reason}});
  metrics_.add("events_consumed_total", label("outcome", "retried"));
}

void NewOrderConsumer::admit(Delivery d, std::vector<Pending>& batch) {
  auto event = parse_event(d);
  if (!event) {
    dead_letter(d,
                "malformed new_order message (needs JSON with a UUID order_id and an "
                "event id)");
    return;
  }
  const auto trace = domain::parse_traceparent(
      d.headers.contains("traceparent") ? d.headers.at("traceparent") : std::string());
  auto inbox_event =
      db::InboxEvent{event->event_id, event->order_id, trace ? trace->trace_id : std::string()};
  batch.push_back({std::move(d), std::move(inbox_event)});
}

void NewOrderConsumer::acknowledge(const std::vector<Pending>& batch,
                                   const std::vector<db::InboxEvent>& fresh) {
  std::set<std::string> new_ids;
  for (const auto& f : fresh) new_ids.insert(f.event_id);
  for (const auto& p : batch) {
    amqp_->ack(p.delivery.delivery_tag);
    const bool is_new = new_ids.contains(p.event.event_id);
    metrics_.add("events_consumed_total", label("outcome", is_new ? "enqueued" : "duplicate"));
    log::info(is_new ? "task enqueued for event" : "duplicate event ignored",
              {{"event_id", p.event.event_id},
               {"order_id", p.event.order_id},
               {"trace_id", p.event.trace_id}});
  }
}

awaitable<void> NewOrderConsumer::handle_batch(std::vector<Pending> batch,
                                               const std::atomic<bool>& stopping) {
  const std::function<awaitable<void>(const std::vector<db::InboxEvent>&)> enqueue =
      [this](const std::vector<db::InboxEvent>& fresh) -> awaitable<void> {
    std::vector<tasks::NewTask> tasks;
    for (const auto& e : fresh) tasks.push_back({e.order_id, e.event_id, e.trace_id});
    co_await queue_.enqueue_process_orders(tasks);
  };
  Backoff backoff(kDependencyRetryBase, kDependencyRetryCap);
  while (!batch.empty()) {
    std::vector<db::InboxEvent> events;
    for (const auto& p : batch) events.push_back(p.event);
    std::exception_ptr error;
    std::vector<db::InboxEvent> fresh;
    try {
      fresh = co_await inbox_.record_new(events, enqueue);
    } catch (...) {
      error = std::current_exception();
    }
    if (!error) {
      health_.all_up();
      acknowledge(batch, fresh);
      co_return;
    }
    const auto failure = classify(error);
    if (failure.kind == FailureKind::Permanent) {
      for (const auto& p : batch) dead_letter(p.delivery, failure.reason);
      co_return;
    }
    if (failure.kind == FailureKind::Unknown) {
      for (const auto& p : batch) retry_later(p, failure.reason);
      co_return;
    }
    // A dependency is down: keep the deliveries (unacked, so the prefetch stops the
    // broker from sending more than it allows), keep the connection alive, try again.
    health_.down(failure);
    metrics_.add("events_consumed_total", label("outcome", "deferred"),
                 static_cast<double>(batch.size()));
    const auto until = Clock::now() + backoff.next();
    while (!stopping && Clock::now() < until) {
      const auto left = std::chrono::duration_cast<Millis>(until - Clock::now());
      if (auto d = amqp_->next_delivery(std::min(left, kPoll))) admit(std::move(*d), batch);
      keep_publisher_alive();
    }
    if (stopping) co_return;  // unacked: the broker requeues them when we disconnect
  }
}

awaitable<void> NewOrderConsumer::run(const std::atomic<bool>& stopping) {
  log::info("consumer started", {{"queue", topology_.queue}});
  co_await tasks::warn_if_tasks_can_be_lost(queue_);
  while (!stopping) {
    if (!ensure_broker()) {
      co_await sleep_for(broker_backoff_.next());
      continue;
    }
    try {
      // Blocking, bounded wait: this thread serves only the consumer.
      std::vector<Pending> batch;
      for (auto d = amqp_->next_delivery(kPoll); d; d = amqp_->next_delivery(Millis(0))) {
        admit(std::move(*d), batch);
        if (static_cast<int>(batch.size()) >= settings_.rabbit.prefetch) break;
      }
      keep_publisher_alive();
      report_dead_letters();
      co_await handle_batch(std::move(batch), stopping);
    } catch (...) {
      // Unacked deliveries go back to the queue when the connection closes.
      const auto failure = classify(std::current_exception());
      if (failure.kind == FailureKind::Transient) {
        health_.down(failure);
      } else {
        log::error("consumer pass failed; reconnecting", {{"error", failure.reason}});
      }
      amqp_.reset();
      retry_publisher_.reset();
    }
  }
  log::info("consumer stopped");
}

}  // namespace os::events
