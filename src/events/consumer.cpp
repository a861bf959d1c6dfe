#include "events/consumer.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "domain/uuid.hpp"

namespace os::events {
namespace {
constexpr Millis kPoll{200};
constexpr Millis kBrokerRetry{1000};
constexpr std::size_t kMaxEventIdLength = 200;

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
             "new_order events by outcome (enqueued, duplicate, retried, dead_lettered).");
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
    auto conn = std::make_unique<AmqpConnection>(settings_.rabbit);
    declare_topology(*conn, topology_);
    conn->consume(topology_.queue, settings_.rabbit.prefetch);
    amqp_ = std::move(conn);
    log::info("consumer connected to RabbitMQ", {{"queue", topology_.queue}});
    broker_down_logged_ = false;
    return true;
  } catch (const AmqpError& e) {
    if (!broker_down_logged_) {
      log::warn("RabbitMQ unavailable; consumer will reconnect", {{"error", e.what()}});
      broker_down_logged_ = true;
    }
    return false;
  }
}

void NewOrderConsumer::retry_later(const Delivery& d, const std::string& event_id,
                                   const std::string& reason) {
  if (d.retry_count >= settings_.rabbit.consumer_max_retries) {
    log::error("event failed after its last retry; dead-lettered",
               {{"event_id", event_id}, {"retries", d.retry_count}, {"error", reason}});
    amqp_->reject(d.delivery_tag);
    metrics_.add("events_consumed_total", label("outcome", "dead_lettered"));
    return;
  }
  const auto delay_ms = static_cast<std::int64_t>(
      1000.0 * settings_.rabbit.consumer_retry_base_seconds * std::pow(2.0, d.retry_count));
  // Confirmed before the ack: the event is never in neither queue.
  if (!retry_publisher_) retry_publisher_ = std::make_unique<AmqpConnection>(settings_.rabbit);
  const auto ok = retry_publisher_->publish_confirmed({OutgoingMessage{
      "", topology_.retry_queue, d.body, d.message_id.empty() ? event_id : d.message_id,
      d.type.empty() ? "new_order" : d.type, d.retry_count + 1, delay_ms}});
  if (!ok.front()) throw AmqpError("RabbitMQ refused the retry message");
  amqp_->ack(d.delivery_tag);
  log::warn("event handling failed; retry scheduled", {{"event_id", event_id},
                                                       {"retry", d.retry_count + 1},
                                                       {"delay_ms", delay_ms},
                                                       {"error", reason}});
  metrics_.add("events_consumed_total", label("outcome", "retried"));
}

awaitable<void> NewOrderConsumer::handle_batch(std::vector<Delivery> deliveries) {
  std::vector<db::InboxEvent> events;
  std::vector<const Delivery*> valid;
  for (const auto& d : deliveries) {
    const auto event = parse_event(d);
    if (!event || d.retry_count > settings_.rabbit.consumer_max_retries) {
      log::error("malformed new_order message; dead-lettered",
                 {{"message_id", d.message_id}, {"body", d.body.substr(0, 200)}});
      amqp_->reject(d.delivery_tag);
      metrics_.add("events_consumed_total", label("outcome", "dead_lettered"));
      continue;
    }
    events.push_back({event->event_id, event->order_id});
    valid.push_back(&d);
  }
  if (events.empty()) co_return;

  std::string failure;
  std::vector<db::InboxEvent> fresh;
  try {
    const std::function<awaitable<void>(const std::vector<db::InboxEvent>&)> enqueue =
        [this](const std::vector<db::InboxEvent>& batch) -> awaitable<void> {
      std::vector<std::pair<std::string, std::string>> tasks;
      for (const auto& e : batch) tasks.emplace_back(e.order_id, e.event_id);
      co_await queue_.enqueue_process_orders(tasks);
    };
    fresh = co_await inbox_.record_new(events, enqueue);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  for (std::size_t i = 0; i < valid.size(); ++i) {
    const auto& d = *valid[i];
    if (!failure.empty()) {
      retry_later(d, events[i].event_id, failure);
      continue;
    }
    amqp_->ack(d.delivery_tag);
    const bool is_new = std::any_of(fresh.begin(), fresh.end(), [&](const db::InboxEvent& f) {
      return f.event_id == events[i].event_id;
    });
    metrics_.add("events_consumed_total", label("outcome", is_new ? "enqueued" : "duplicate"));
    log::info(is_new ? "task enqueued for event" : "duplicate event ignored",
              {{"event_id", events[i].event_id}, {"order_id", events[i].order_id}});
  }
}

awaitable<void> NewOrderConsumer::run(const std::atomic<bool>& stopping) {
  log::info("consumer started", {{"queue", topology_.queue}});
  while (!stopping) {
    if (!ensure_broker()) {
      co_await sleep_for(kBrokerRetry);
      continue;
    }
    std::string failure;
    try {
      // Blocking, bounded wait: this thread serves only the consumer.
      std::vector<Delivery> batch;
      for (auto d = amqp_->next_delivery(kPoll); d; d = amqp_->next_delivery(Millis(0))) {
        batch.push_back(std::move(*d));
        if (static_cast<int>(batch.size()) >= settings_.rabbit.prefetch) break;
      }
      co_await handle_batch(std::move(batch));
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      // Unacked deliveries go back to the queue when the connection closes.
      log::warn("consumer connection reset; reconnecting", {{"error", failure}});
      amqp_.reset();
      retry_publisher_.reset();
      broker_down_logged_ = true;
    }
  }
  log::info("consumer stopped");
}

}  // namespace os::events
