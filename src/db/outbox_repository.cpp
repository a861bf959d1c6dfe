#include "db/outbox_repository.hpp"

namespace os::db {
namespace {
const Statement kClaim{
    "outbox_claim",
    "UPDATE outbox_events o SET attempts = o.attempts + 1,"
    " next_attempt_at = now() + make_interval(secs => $2::float8)"
    " FROM (SELECT id FROM outbox_events WHERE published_at IS NULL AND next_attempt_at <= now()"
    "       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due"
    " WHERE o.id = due.id"
    " RETURNING o.id, o.event_type, o.aggregate_id, o.payload::text, o.attempts, o.created_at,"
    " coalesce(o.traceparent, '')"};
const Statement kPublished{
    "outbox_published",
    "UPDATE outbox_events SET published_at = now(), last_error = NULL WHERE id = ANY($1::uuid[])"};
const Statement kFailed{
    "outbox_failed",
    "UPDATE outbox_events SET last_error = $2,"
    " next_attempt_at = now() + make_interval(secs => least($3::float8, power(2, attempts - 1)))"
    " WHERE id = ANY($1::uuid[])"};
const Statement kRelease{
    "outbox_release",
    "UPDATE outbox_events SET last_error = $2, next_attempt_at = now() WHERE id = ANY($1::uuid[])"};
const Statement kBacklog{
    "outbox_backlog",
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
    " FROM outbox_events WHERE published_at IS NULL"};
}  // namespace

awaitable<std::vector<OutboxEvent>> OutboxRepository::claim(int batch_size,
                                                            std::chrono::milliseconds lease) {
  const auto r = co_await pool_.execute(
      kClaim, params(std::to_string(batch_size), std::to_string(lease.count() / 1000.0)));
  std::vector<OutboxEvent> events;
  events.reserve(static_cast<std::size_t>(r.rows()));
  std::vector<std::pair<std::string, std::size_t>> order;
  for (int i = 0; i < r.rows(); ++i) {
    events.push_back({std::string(r.text(i, 0)), std::string(r.text(i, 1)),
                      std::string(r.text(i, 2)), std::string(r.text(i, 3)),
                      static_cast<int>(r.integer(i, 4)), std::string(r.text(i, 6))});
    order.emplace_back(std::string(r.text(i, 5)), static_cast<std::size_t>(i));
  }
  // Publish in creation order (UPDATE ... RETURNING has none).
  std::sort(order.begin(), order.end());
  std::vector<OutboxEvent> sorted;
  sorted.reserve(events.size());
  for (const auto& [created, index] : order) sorted.push_back(std::move(events[index]));
  co_return sorted;
}

awaitable<void> OutboxRepository::mark_published(const std::vector<std::string>& ids) {
  if (ids.empty()) co_return;
  co_await pool_.execute(kPublished, params(array_literal(ids)));
}

awaitable<void> OutboxRepository::mark_failed(const std::vector<std::string>& ids,
                                              const std::string& error,
                                              std::chrono::milliseconds max_backoff) {
  if (ids.empty()) co_return;
  co_await pool_.execute(
      kFailed, params(array_literal(ids), error, std::to_string(max_backoff.count() / 1000.0)));
}

awaitable<void> OutboxRepository::release(const std::vector<std::string>& ids,
                                          const std::string& error) {
  if (ids.empty()) co_return;
  co_await pool_.execute(kRelease, params(array_literal(ids), error));
}

awaitable<OutboxBacklog> OutboxRepository::backlog() {
  const auto r = co_await pool_.execute(kBacklog, Params{});
  co_return OutboxBacklog{r.integer(0, 0), std::strtod(std::string(r.text(0, 1)).c_str(), nullptr)};
}

awaitable<void> OutboxRepository::report_backlog(Metrics& metrics) {
  const auto b = co_await backlog();
  metrics.set("outbox_backlog", "", static_cast<double>(b.pending));
  metrics.set("outbox_oldest_age_seconds", "", b.oldest_age_seconds);
}

}  // namespace os::db
