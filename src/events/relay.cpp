#include "events/relay.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "core/sleep.hpp"

namespace os::events {
namespace {
constexpr Millis kStopCheck{500};
constexpr Millis kBrokerRetry{1000};
constexpr auto kHousekeepingEvery = std::chrono::seconds(10);

}  // namespace

void describe_relay_metrics(Metrics& m) {
  m.describe("outbox_events_published_total", Metrics::Type::Counter,
             "Outbox events confirmed by RabbitMQ.");
  m.describe("outbox_events_failed_total", Metrics::Type::Counter,
             "Outbox publish attempts that failed (retried with backoff).");
  m.describe("outbox_backlog", Metrics::Type::Gauge, "Unpublished outbox events.");
  m.describe("outbox_oldest_age_seconds", Metrics::Type::Gauge,
             "Age of the oldest unpublished outbox event.");
}

Relay::Relay(const config::Settings& settings, db::PgPool& pool, Metrics& metrics)
    : settings_(settings),
      pool_(pool),
      outbox_(pool),
      metrics_(metrics),
      topology_(topology_for(settings.rabbit)) {}

bool Relay::ensure_broker() {
  if (amqp_) return true;
  if (Clock::now() < next_broker_attempt_) return false;
  try {
    auto conn = std::make_unique<AmqpConnection>(settings_.rabbit);
    declare_topology(*conn, topology_);
    amqp_ = std::move(conn);
    log::info("relay connected to RabbitMQ", {{"exchange", topology_.exchange}});
    broker_down_logged_ = false;
    return true;
  } catch (const AmqpError& e) {
    if (!broker_down_logged_) {
      log::warn("RabbitMQ unavailable; outbox rows stay pending", {{"error", e.what()}});
      broker_down_logged_ = true;
    }
    next_broker_attempt_ = Clock::now() + kBrokerRetry;
    return false;
  }
}

awaitable<std::size_t> Relay::relay_batch() {
  const auto events = co_await outbox_.claim(settings_.outbox.batch_size, settings_.outbox.lease);
  if (events.empty()) co_return 0;
  std::vector<OutgoingMessage> messages;
  std::vector<std::string> ids;
  for (const auto& e : events) {
    messages.push_back({topology_.exchange, topology_.routing_key, e.payload, e.id, e.event_type, 0,
                        std::nullopt});
    ids.push_back(e.id);
  }
  std::vector<bool> confirmed;
  std::string broker_error;
  try {
    confirmed = amqp_->publish_confirmed(messages);
  } catch (const AmqpError& e) {
    broker_error = e.what();
  }
  if (!broker_error.empty()) {
    // Unknown outcome: publish again later (the consumer deduplicates by event id).
    amqp_.reset();
    log::warn("RabbitMQ connection lost while publishing", {{"error", broker_error}});
    co_await outbox_.release(ids, broker_error);
    metrics_.add("outbox_events_failed_total", "", static_cast<double>(ids.size()));
    co_return events.size();
  }
  std::vector<std::string> published, nacked;
  for (std::size_t i = 0; i < events.size(); ++i) {
    (confirmed[i] ? published : nacked).push_back(events[i].id);
  }
  co_await outbox_.mark_published(published);
  co_await outbox_.mark_failed(nacked, "nacked by RabbitMQ", settings_.outbox.max_backoff);
  metrics_.add("outbox_events_published_total", "", static_cast<double>(published.size()));
  if (!nacked.empty())
    metrics_.add("outbox_events_failed_total", "", static_cast<double>(nacked.size()));
  for (const auto& e : events) {
    if (log::enabled(spdlog::level::debug)) {
      log::debug("event published", {{"event_id", e.id}, {"order_id", e.aggregate_id}});
    }
  }
  co_return events.size();
}

awaitable<void> Relay::wait_for_work(const std::atomic<bool>& stopping) {
  const auto until = Clock::now() + settings_.outbox.poll_interval;
  while (!stopping && Clock::now() < until) {
    const auto left =
        std::min(kStopCheck, std::chrono::duration_cast<Millis>(until - Clock::now()));
    if (!listener_) {
      listener_ = co_await db::PgConnection::connect(co_await asio::this_coro::executor,
                                                     settings_.postgres.conninfo,
                                                     settings_.postgres.connect_timeout);
      co_await listener_->query("LISTEN outbox_events", settings_.postgres.query_timeout);
      co_return;  // rows may have committed while we were not listening
    }
    const auto notes = co_await listener_->wait_notifications(left);
    if (!notes.empty()) co_return;
  }
}

awaitable<void> Relay::housekeeping() {
  if (Clock::now() < next_housekeeping_) co_return;
  next_housekeeping_ = Clock::now() + kHousekeepingEvery;
  const auto pruned = co_await outbox_.prune(settings_.outbox.retention);
  if (pruned > 0) log::info("pruned published outbox rows", {{"rows", pruned}});
  const auto backlog = co_await outbox_.backlog();
  metrics_.set("outbox_backlog", "", static_cast<double>(backlog.pending));
  metrics_.set("outbox_oldest_age_seconds", "", backlog.oldest_age_seconds);
}

awaitable<void> Relay::run(const std::atomic<bool>& stopping) {
  log::info("relay started", {{"batch", settings_.outbox.batch_size}});
  bool db_down = false;
  while (!stopping) {
    std::string failure;
    try {
      co_await housekeeping();
      std::size_t claimed = 0;
      if (ensure_broker()) claimed = co_await relay_batch();
      if (db_down) log::info("relay: PostgreSQL reachable again");
      db_down = false;
      if (claimed < static_cast<std::size_t>(settings_.outbox.batch_size)) {
        if (amqp_) {
          co_await wait_for_work(stopping);
        } else {
          co_await sleep_for(kBrokerRetry);
        }
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      if (!db_down) log::warn("relay: PostgreSQL unavailable; retrying", {{"error", failure}});
      db_down = true;
      listener_.reset();
      co_await sleep_for(kBrokerRetry);
    }
  }
  log::info("relay stopped");
}

}  // namespace os::events
