#include "events/relay.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>

#include "core/capture.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "domain/trace.hpp"

namespace os::events {
namespace {
// How often the idle relay services the broker connection's heartbeats.
constexpr Millis kHeartbeatEvery{500};
// Events published and not confirmed yet, at most.
constexpr std::size_t kMaxInFlight = 1000;
// How long the relay waits for confirms, at most, before it looks at its LISTEN connection
// again (a ring from the api of this process ends the wait at once).
constexpr Millis kConfirmWait{10};

void log_published(const std::vector<db::OutboxEvent>& events) {
  if (!log::enabled(spdlog::level::info)) return;
  for (const auto& e : events) {
    const auto trace = domain::parse_traceparent(e.traceparent);
    log::info("event published", {{"event_id", e.id},
                                  {"order_id", e.aggregate_id},
                                  {"trace_id", trace ? trace->trace_id : std::string()}});
  }
}

}  // namespace

void describe_relay_metrics(Metrics& m) {
  m.describe("outbox_events_published_total", Metrics::Type::Counter,
             "Outbox events confirmed by RabbitMQ.");
  m.describe("outbox_events_failed_total", Metrics::Type::Counter,
             "Outbox publish attempts that failed (retried with backoff).");
  m.describe("rabbitmq_connection_blocked", Metrics::Type::Gauge,
             "1 while RabbitMQ blocks the relay's publishing (connection.blocked: a memory or "
             "disk alarm), else 0.");
}

Relay::Relay(const config::OutboxSettings& outbox, const config::RabbitSettings& rabbit,
             const config::PostgresSettings& postgres, db::PgPool& pool, Metrics& metrics,
             Doorbell* doorbell)
    : settings_(outbox),
      rabbit_(rabbit),
      postgres_(postgres),
      outbox_(pool),
      metrics_(metrics),
      broker_("relay", rabbit),
      doorbell_(doorbell) {}

Relay::~Relay() {
  detach_doorbell();
}

void Relay::attach_doorbell(const asio::any_io_executor& ex) {
  if (doorbell_ == nullptr || doorbell_attached_ || !listener_) return;
  doorbell_->attach(ex, [this] {
    if (listener_) listener_->interrupt_wait();
    broker_.interrupt_wait();
  });
  doorbell_attached_ = true;
}

void Relay::detach_doorbell() {
  if (doorbell_ != nullptr) doorbell_->detach();
  doorbell_attached_ = false;
}

bool Relay::rung() {
  return doorbell_ != nullptr && doorbell_->take();
}

bool Relay::woken() {
  const bool was_rung = rung();
  return (listener_ && !listener_->take_notifications().empty()) || was_rung;
}

awaitable<std::size_t> Relay::publish_due() {
  const auto events = co_await outbox_.claim(settings_.batch_size, settings_.lease);
  std::size_t published = 0;
  const auto broker_error = capture_now([&] {
    const auto& topology = broker_.topology();
    auto& connection = broker_.connection();
    for (const auto& e : events) {
      amqp::OutgoingMessage m{
          topology.exchange, topology.routing_key, e.payload, e.id, e.event_type, 0, std::nullopt};
      if (!e.traceparent.empty()) m.headers["traceparent"] = e.traceparent;
      // pass() released the rows of any older connection first.
      in_flight_.sent(connection.publish_unconfirmed(m), e, Clock::now(), broker_.generation());
      ++published;
    }
  });
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
  std::vector<amqp::AmqpConnection::Settled> settled;
  const auto broker_error = capture_now([&] {
    settled = broker_.connection().take_settled(wait);
    // While RabbitMQ blocks us (it said so) it reads nothing, so confirms are not due: the
    // timeout counts from the send or the unblock, whichever came last (publishing_blocked()
    // notes a connection.unblocked that just came). A dead broker is still found out by
    // its missing heartbeats.
    if (settled.empty() && !publishing_blocked() &&
        Clock::now() - std::max(*in_flight_.oldest_sent(), unblocked_at_) > rabbit_.timeout) {
      throw amqp::AmqpError("RabbitMQ did not confirm in time");
    }
  });
  if (broker_error) {
    const std::vector<std::string> none;  // named: GCC 12 mis-destroys braced temporaries here
    co_await drop_broker(broker_error, none);
    co_return;
  }
  auto verdicts = in_flight_.settle(settled);
  auto& confirmed = verdicts.confirmed;
  const auto& unroutable = verdicts.unroutable;
  const auto& nacked = verdicts.nacked;
  // Blocked on an earlier connection: a confirm on this one says that the alarm is over.
  if (blocked_ && !confirmed.empty() && !broker_.connection().blocked()) note_unblocked();
  std::vector<std::string> ids;
  for (const auto& c : confirmed) ids.push_back(c.id);
  if (!ids.empty()) co_await outbox_.mark_published(ids);
  // Unroutable (no queue bound): a set-up problem, so these back off; the next connection
  // declares the topology again.
  for (const auto& [reason, failed_ids] : unroutable) {
    log::warn("RabbitMQ did not take outbox events; they stay pending and back off",
              {{"events", static_cast<std::int64_t>(failed_ids.size())}, {"reason", reason}});
    co_await outbox_.mark_failed(failed_ids, reason, settings_.max_backoff);
    metrics_.add("outbox_events_failed_total", "", static_cast<double>(failed_ids.size()));
  }
  metrics_.add("outbox_events_published_total", "", static_cast<double>(ids.size()));
  log_published(confirmed);
  if (!unroutable.empty()) {
    // Not an outage, a set-up problem: the next connection declares the topology again.
    const auto error = std::make_exception_ptr(
        std::runtime_error("RabbitMQ returned outbox events as unroutable (no queue bound)"));
    const std::vector<std::string> none;
    co_await drop_broker(error, none);
  } else if (!nacked.empty()) {
    // Nacked: the broker could not store them, e.g. a quorum queue electing a new leader
    // after a node died. A channel that published during the election keeps being nacked
    // (RabbitMQ 3.10), so a new connection, after a short backoff, publishes them again.
    const auto error = std::make_exception_ptr(amqp::AmqpError(
        "RabbitMQ nacked " + std::to_string(nacked.size()) +
        " publishes (a quorum queue without a leader, or a resource alarm); reconnecting"));
    co_await drop_broker(error, nacked);
  }
}

awaitable<void> Relay::release_in_flight(std::vector<std::string> ids, const std::string& reason) {
  // If the release fails too, they are published again after the lease.
  for (auto& id : in_flight_.release_all()) ids.push_back(std::move(id));
  if (ids.empty()) co_return;
  metrics_.add("outbox_events_failed_total", "", static_cast<double>(ids.size()));
  co_await outbox_.release(ids, reason);
}

awaitable<void> Relay::release_lost_in_flight() {
  if (!in_flight_.stranded(broker_.generation())) co_return;
  co_await release_in_flight({}, "the RabbitMQ connection was replaced before the confirm");
}

awaitable<void> Relay::drop_broker(std::exception_ptr error, std::vector<std::string> unsent) {
  // Unknown outcome for what is in flight: publish again (the consumer deduplicates).
  broker_.drop();
  co_await release_in_flight(std::move(unsent), classify(error).reason);
  std::rethrow_exception(error);  // the supervised loop reports it and backs off
}

awaitable<void> Relay::wait_for_work() {
  if (!listener_) {
    listener_ = co_await db::PgConnection::connect(co_await asio::this_coro::executor,
                                                   postgres_.conninfo, postgres_.connect_timeout);
    co_await listener_->query("LISTEN outbox_events", postgres_.query_timeout);
    attach_doorbell(co_await asio::this_coro::executor);
    co_return;  // rows may have committed while we were not listening
  }
  const auto until = Clock::now() + settings_.poll_interval;
  while (Clock::now() < until) {
    if (rung()) co_return;
    const auto left =
        std::min(kHeartbeatEvery, std::chrono::duration_cast<Millis>(until - Clock::now()));
    if (!(co_await listener_->wait_notifications(left)).empty()) co_return;
    if (co_await stop_requested()) co_return;
    broker_.keep_alive();
  }
}

awaitable<void> Relay::pass() {
  broker_.connection();  // throws while RabbitMQ is unreachable
  co_await release_lost_in_flight();
  attach_doorbell(co_await asio::this_coro::executor);  // working again after a failure detached it
  co_await settle(Millis(0));
  if (publishing_blocked()) {
    // RabbitMQ reads nothing from this connection until the alarm clears: publish nothing
    // (a write would only fill the socket buffers), keep taking confirms and answering
    // heartbeats, and look again when the broker sends something (connection.unblocked, a
    // confirm, a heartbeat) or after kHeartbeatEvery. No poll loop: one wake-up per input.
    co_await broker_.wait_readable(kHeartbeatEvery);
    const auto broker_error = capture_now([&] { broker_.connection().keep_alive(); });
    if (broker_error) {
      const std::vector<std::string> none;
      co_await drop_broker(broker_error, none);
    }
    co_return;
  }
  if (maybe_due_ && in_flight_.size() < kMaxInFlight) {
    maybe_due_ = co_await publish_due() == static_cast<std::size_t>(settings_.batch_size);
  }
  if (maybe_due_) co_return;
  if (in_flight_.empty()) {
    co_await wait_for_work();
    maybe_due_ = true;
    co_return;
  }
  // Confirms outstanding: wait for them without blocking the thread (no poll loop), and
  // stop waiting when a commit is announced, so that a new row never waits for an earlier
  // batch's confirm. The next pass takes what arrived. (A ring that came while this pass
  // published found no wait to end: it is seen here.)
  if (rung()) {
    maybe_due_ = true;
    co_return;
  }
  co_await broker_.wait_readable(kConfirmWait);
  if (woken()) maybe_due_ = true;
}

awaitable<void> Relay::settle_before_stopping() {
  const auto until = Clock::now() + rabbit_.timeout;
  // Not while RabbitMQ blocks us: no confirm comes before the alarm clears.
  while (broker_.is_open() && !broker_.connection().blocked() && !in_flight_.empty() &&
         Clock::now() < until) {
    try {
      co_await settle(Millis(50));
    } catch (...) {
      break;  // what is left is republished after its lease
    }
  }
}

bool Relay::publishing_blocked() {
  if (!broker_.is_open()) return false;
  const auto& connection = broker_.connection();
  if (connection.blocked()) {
    if (!blocked_) {
      blocked_ = true;
      blocked_since_ = Clock::now();
      log::warn("RabbitMQ blocked publishing: " + connection.blocked_reason(),
                {{"reason", connection.blocked_reason()},
                 {"in_flight", static_cast<std::int64_t>(in_flight_.size())}});
      metrics_.set("rabbitmq_connection_blocked", "", 1);
    }
    blocked_generation_ = broker_.generation();
    return true;
  }
  // On the connection that was blocked: connection.unblocked came. (A new connection says
  // nothing until it publishes: its first confirm tells, see settle().)
  if (blocked_ && broker_.generation() == blocked_generation_) note_unblocked();
  return false;
}

void Relay::note_unblocked() {
  blocked_ = false;
  unblocked_at_ = Clock::now();
  const auto seconds =
      std::chrono::duration_cast<Millis>(unblocked_at_ - blocked_since_).count() / 1000.0;
  log::info(
      "RabbitMQ unblocked publishing",
      {{"blocked_seconds", seconds}, {"in_flight", static_cast<std::int64_t>(in_flight_.size())}});
  metrics_.set("rabbitmq_connection_blocked", "", 0);
}

awaitable<void> Relay::run() {
  log::info("relay started", {{"batch", settings_.batch_size}});
  metrics_.set("rabbitmq_connection_blocked", "", 0);
  DutyLoop loop{.duty = "relay",
                .pass = [this] { return pass(); },
                .on_failure =
                    [this](const Failure& failure) {
                      // Not working: the api notifies, so relays elsewhere wake.
                      detach_doorbell();
                      maybe_due_ = true;
                      if (!failure.is_down(Dependency::Postgres)) {
                        broker_.drop();
                        in_flight_.release_all();  // republished after their lease
                      }
                      if (!failure.is_down(Dependency::RabbitMQ)) listener_.reset();
                      // PostgreSQL may be down for long: keep answering heartbeats.
                      broker_.keep_alive();
                    },
                .retry = {.base = kBrokerRetryBase, .cap = kBrokerRetryCap}};
  co_await supervise(std::move(loop), health_);
  detach_doorbell();
  // What is still unconfirmed gets a last chance; the rest is republished after its lease.
  co_await settle_before_stopping();
}

}  // namespace os::events
