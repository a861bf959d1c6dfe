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
// Events published and not confirmed yet, at most.
constexpr std::size_t kMaxInFlight = 1000;
// How long the relay waits for confirms before it looks for new rows again.
constexpr Millis kConfirmWait{2};

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
      outbox_(pool),
      retention_(pool),
      metrics_(metrics),
      topology_(topology_for(settings.rabbit)) {}

bool Relay::ensure_broker() {
  if (amqp_) return true;
  if (Clock::now() < next_broker_attempt_) return false;
  try {
    amqp_ = connect_declared(settings_.rabbit, topology_);
    log::info("relay connected to RabbitMQ",
              {{"exchange", topology_.exchange}, {"node", amqp_->node().text()}});
    health_.up("rabbitmq");
    return true;
  } catch (const AmqpError&) {
    health_.down(classify(std::current_exception()));
    next_broker_attempt_ = Clock::now() + broker_backoff_.next();
    return false;
  }
}

awaitable<std::size_t> Relay::publish_due() {
  const auto events = co_await outbox_.claim(settings_.outbox.batch_size, settings_.outbox.lease);
  std::size_t published = 0;
  std::exception_ptr broker_error;
  try {
    for (const auto& e : events) {
      OutgoingMessage m{topology_.exchange, topology_.routing_key, e.payload, e.id, e.event_type, 0,
                        std::nullopt};
      if (!e.traceparent.empty()) m.headers["traceparent"] = e.traceparent;
      in_flight_.emplace(amqp_->publish_unconfirmed(m), InFlight{e, Clock::now()});
      ++published;
    }
  } catch (const AmqpError&) {
    broker_error = std::current_exception();
  }
  if (broker_error) {
    // Claimed but never sent: back to the queue at once, with the in-flight ones.
    std::vector<std::string> unsent;
    for (std::size_t i = published; i < events.size(); ++i) unsent.push_back(events[i].id);
    co_await drop_broker(broker_error, unsent);
  }
  co_return events.size();
}

awaitable<void> Relay::settle(Millis wait) {
  if (in_flight_.empty()) co_return;
  std::vector<AmqpConnection::Settled> settled;
  std::exception_ptr broker_error;
  try {
    settled = amqp_->take_settled(wait);
    if (settled.empty() &&
        Clock::now() - in_flight_.begin()->second.sent > settings_.rabbit.timeout) {
      throw AmqpError("RabbitMQ did not confirm in time");
    }
  } catch (const AmqpError&) {
    broker_error = std::current_exception();
  }
  if (broker_error) {
    const std::vector<std::string> none;  // named: GCC 12 mis-destroys braced temporaries here
    co_await drop_broker(broker_error, none);
    co_return;
  }
  health_.up("rabbitmq");
  std::vector<InFlight> confirmed;
  std::map<std::string, std::vector<std::string>> unroutable;  // reason -> ids
  std::vector<std::string> nacked;
  for (auto& s : settled) {
    const auto it = in_flight_.find(s.tag);
    if (it == in_flight_.end()) continue;
    if (s.result.confirmed()) {
      confirmed.push_back(std::move(it->second));
    } else if (s.result.status == PublishResult::Status::Returned) {
      unroutable[s.result.reason].push_back(it->second.event.id);
    } else {
      nacked.push_back(it->second.event.id);
    }
    in_flight_.erase(it);
  }
  std::vector<std::string> ids;
  for (const auto& c : confirmed) ids.push_back(c.event.id);
  if (!ids.empty()) {
    co_await outbox_.mark_published(ids);
    broker_backoff_.reset();
  }
  // Unroutable (no queue bound): a set-up problem, so these back off; the next connection
  // declares the topology again.
  for (const auto& [reason, failed_ids] : unroutable) {
    log::warn("RabbitMQ did not take outbox events; they stay pending and back off",
              {{"events", static_cast<std::int64_t>(failed_ids.size())}, {"reason", reason}});
    co_await outbox_.mark_failed(failed_ids, reason, settings_.outbox.max_backoff);
    metrics_.add("outbox_events_failed_total", "", static_cast<double>(failed_ids.size()));
  }
  if (!unroutable.empty()) {
    const auto error = std::make_exception_ptr(AmqpError("unroutable"));
    const std::vector<std::string> none;
    co_await drop_broker(error, none);
  } else if (!nacked.empty()) {
    // Nacked: the broker could not store them, e.g. a quorum queue electing a new leader
    // after a node died. A channel that published during the election keeps being nacked
    // (RabbitMQ 3.10), so a new connection, after a short backoff, publishes them again.
    const auto error = std::make_exception_ptr(AmqpError(
        "RabbitMQ nacked " + std::to_string(nacked.size()) +
        " publishes (a quorum queue without a leader, or a resource alarm); reconnecting"));
    co_await drop_broker(error, nacked);
  }
  metrics_.add("outbox_events_published_total", "", static_cast<double>(ids.size()));
  if (log::enabled(spdlog::level::info)) {
    for (const auto& c : confirmed) {
      const auto trace = domain::parse_traceparent(c.event.traceparent);
      log::info("event published", {{"event_id", c.event.id},
                                    {"order_id", c.event.aggregate_id},
                                    {"trace_id", trace ? trace->trace_id : std::string()}});
    }
  }
}

awaitable<void> Relay::drop_broker(std::exception_ptr error, std::vector<std::string> unsent) {
  // Unknown outcome for what is in flight: publish again (the consumer deduplicates).
  amqp_.reset();
  next_broker_attempt_ = Clock::now() + broker_backoff_.next();  // reset by the next confirm
  const auto failure = classify(error);
  if (failure.reason != "unroutable") health_.down(failure);
  for (const auto& [tag, f] : in_flight_) unsent.push_back(f.event.id);
  in_flight_.clear();
  if (unsent.empty()) co_return;
  metrics_.add("outbox_events_failed_total", "", static_cast<double>(unsent.size()));
  co_await outbox_.release(unsent, failure.reason);
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
  co_await outbox_.report_backlog(metrics_);
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
  bool maybe_due = true;  // rows may be due: claim before waiting
  while (!stopping) {
    bool failed = false;
    try {
      co_await housekeeping();
      if (!ensure_broker()) {
        co_await sleep_for(std::chrono::duration_cast<Millis>(
            std::max(next_broker_attempt_ - Clock::now(), Clock::duration(Millis(10)))));
        continue;
      }
      co_await settle(Millis(0));
      if (maybe_due && amqp_ && in_flight_.size() < kMaxInFlight) {
        maybe_due = co_await publish_due() == static_cast<std::size_t>(settings_.outbox.batch_size);
      }
      health_.up("postgres");
      if (maybe_due || !amqp_) continue;
      if (in_flight_.empty()) {
        co_await wait_for_work(stopping);
        maybe_due = true;
        continue;
      }
      // Confirms outstanding: wait for them briefly, and look for new rows in between,
      // so that a new row never waits for an earlier batch's confirm.
      co_await settle(kConfirmWait);
      if (listener_ && !listener_->take_notifications().empty()) maybe_due = true;
    } catch (...) {
      const auto failure = classify(std::current_exception());
      if (failure.dependency == "rabbitmq") {
        amqp_.reset();       // its heartbeat failed while idle: reconnect
        in_flight_.clear();  // republished after their lease
      } else {
        listener_.reset();
      }
      if (failure.kind == FailureKind::Transient) {
        health_.down(failure);
      } else {
        log::error("relay pass failed; retrying", {{"error", failure.reason}});
      }
      failed = true;
      maybe_due = true;
    }
    if (failed) {
      co_await sleep_for(kBrokerRetry);
      keep_broker_alive();  // PostgreSQL may be down for long: keep answering heartbeats
    }
  }
  // What is still unconfirmed gets a last chance; the rest is republished after its lease.
  const auto until = Clock::now() + settings_.rabbit.timeout;
  while (amqp_ && !in_flight_.empty() && Clock::now() < until) {
    try {
      co_await settle(Millis(50));
    } catch (...) {
      break;
    }
  }
  log::info("relay stopped");
}

}  // namespace os::events
