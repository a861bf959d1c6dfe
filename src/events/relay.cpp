#include "events/relay.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "domain/trace.hpp"

namespace os::events {
namespace {
constexpr Millis kStopCheck{500};
constexpr Millis kBrokerRetry{1000};
constexpr auto kHousekeepingEvery = std::chrono::seconds(10);
constexpr int kRetentionBatchesPerPass = 20;

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
      retention_(pool),
      metrics_(metrics),
      topology_(topology_for(settings.rabbit)) {}

bool Relay::ensure_broker() {
  if (amqp_) return true;
  if (Clock::now() < next_broker_attempt_) return false;
  try {
    amqp_ = connect_declared(settings_.rabbit, topology_);
    log::info("relay connected to RabbitMQ", {{"exchange", topology_.exchange}});
    health_.up("rabbitmq");
    return true;
  } catch (const AmqpError&) {
    health_.down(classify(std::current_exception()));
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
    if (!e.traceparent.empty()) messages.back().headers["traceparent"] = e.traceparent;
    ids.push_back(e.id);
  }
  std::vector<PublishResult> results;
  std::exception_ptr broker_error;
  try {
    results = amqp_->publish_confirmed(messages);
  } catch (const AmqpError&) {
    broker_error = std::current_exception();
  }
  if (broker_error) {
    // Unknown outcome: publish again later (the consumer deduplicates by event id).
    amqp_.reset();
    const auto failure = classify(broker_error);
    health_.down(failure);
    co_await outbox_.release(ids, failure.reason);
    metrics_.add("outbox_events_failed_total", "", static_cast<double>(ids.size()));
    co_return events.size();
  }
  health_.up("rabbitmq");
  std::vector<std::string> published;
  std::map<std::string, std::vector<std::string>> failed;  // reason -> ids
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (results[i].confirmed()) {
      published.push_back(events[i].id);
    } else {
      failed[results[i].reason].push_back(events[i].id);
    }
  }
  co_await outbox_.mark_published(published);
  const bool returned = std::any_of(results.begin(), results.end(), [](const PublishResult& r) {
    return r.status == PublishResult::Status::Returned;
  });
  if (returned) amqp_.reset();  // the next connection declares the topology again
  for (const auto& [reason, failed_ids] : failed) {
    log::warn("RabbitMQ did not take outbox events; they stay pending and back off",
              {{"events", static_cast<std::int64_t>(failed_ids.size())}, {"reason", reason}});
    co_await outbox_.mark_failed(failed_ids, reason, settings_.outbox.max_backoff);
    metrics_.add("outbox_events_failed_total", "", static_cast<double>(failed_ids.size()));
  }
  metrics_.add("outbox_events_published_total", "", static_cast<double>(published.size()));
  if (log::enabled(spdlog::level::info)) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (!results[i].confirmed()) continue;
      const auto& e = events[i];
      const auto trace = domain::parse_traceparent(e.traceparent);
      log::info("event published", {{"event_id", e.id},
                                    {"order_id", e.aggregate_id},
                                    {"trace_id", trace ? trace->trace_id : std::string()}});
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
    keep_broker_alive();  // heartbeats while idle
  }
}

awaitable<void> Relay::housekeeping() {
  if (Clock::now() < next_housekeeping_) co_return;
  next_housekeeping_ = Clock::now() + kHousekeepingEvery;
  const auto pruned = co_await outbox_.prune(settings_.outbox.retention);
  if (pruned > 0) log::info("pruned published outbox rows", {{"rows", pruned}});
  // Bounded: a few batches per pass, so a backlog is worked off over passes.
  db::Pruned total;
  for (int i = 0; i < kRetentionBatchesPerPass; ++i) {
    const auto p = co_await retention_.prune_batch(settings_.retention);
    total.inbox += p.inbox;
    total.task_runs += p.task_runs;
    total.idempotency_keys += p.idempotency_keys;
    if (p.inbox < db::RetentionRepository::kBatch &&
        p.task_runs < db::RetentionRepository::kBatch &&
        p.idempotency_keys < db::RetentionRepository::kBatch) {
      break;
    }
  }
  if (total.total() > 0) {
    log::info("pruned old rows", {{"inbox_events", total.inbox},
                                  {"task_runs", total.task_runs},
                                  {"idempotency_keys", total.idempotency_keys}});
  }
  const auto backlog = co_await outbox_.backlog();
  metrics_.set("outbox_backlog", "", static_cast<double>(backlog.pending));
  metrics_.set("outbox_oldest_age_seconds", "", backlog.oldest_age_seconds);
}

void Relay::keep_broker_alive() {
  if (!amqp_) return;
  try {
    amqp_->keep_alive();
  } catch (const AmqpError&) {
    amqp_.reset();
    health_.down(classify(std::current_exception()));
  }
}

awaitable<void> Relay::run(const std::atomic<bool>& stopping) {
  log::info("relay started", {{"batch", settings_.outbox.batch_size}});
  while (!stopping) {
    bool failed = false;
    try {
      co_await housekeeping();
      std::size_t claimed = 0;
      if (ensure_broker()) claimed = co_await relay_batch();
      health_.up("postgres");
      if (claimed < static_cast<std::size_t>(settings_.outbox.batch_size)) {
        if (amqp_) {
          co_await wait_for_work(stopping);
        } else {
          co_await sleep_for(kBrokerRetry);
        }
      }
    } catch (...) {
      const auto failure = classify(std::current_exception());
      if (failure.dependency == "rabbitmq") {
        amqp_.reset();  // its heartbeat failed while idle: reconnect
      } else {
        listener_.reset();
      }
      if (failure.kind == FailureKind::Transient) {
        health_.down(failure);
      } else {
        log::error("relay pass failed; retrying", {{"error", failure.reason}});
      }
      failed = true;
    }
    if (failed) {
      co_await sleep_for(kBrokerRetry);
      keep_broker_alive();  // PostgreSQL may be down for long: keep answering heartbeats
    }
  }
  log::info("relay stopped");
}

}  // namespace os::events
