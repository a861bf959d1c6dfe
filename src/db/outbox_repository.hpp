// The transactional outbox as the relay sees it: claim due rows with a lease, then
// mark them published or failed.
#pragma once
#include <string>
#include <vector>
#include "core/metrics.hpp"

#include "db/pg_pool.hpp"

namespace os::db {

struct OutboxEvent {
  std::string id;  // the event id
  std::string event_type;
  std::string aggregate_id;  // the order id
  std::string payload;       // JSON
  int attempts = 0;
  std::string traceparent;  // of the request that created the order ("" if none)
};

struct OutboxBacklog {
  std::int64_t pending = 0;
  double oldest_age_seconds = 0;
};

class OutboxRepository {
 public:
  explicit OutboxRepository(PgPool& pool) : pool_(pool) {}

  // Due, unpublished rows (FOR UPDATE SKIP LOCKED, so relays never share a row); they
  // stay invisible to other relays for `lease` unless marked earlier.
  awaitable<std::vector<OutboxEvent>> claim(int batch_size, std::chrono::milliseconds lease);
  awaitable<void> mark_published(const std::vector<std::string>& ids);
  // Exponential backoff per row: 1, 2, 4, ... seconds, at most `max_backoff`.
  awaitable<void> mark_failed(const std::vector<std::string>& ids, const std::string& error,
                              std::chrono::milliseconds max_backoff);
  // Due again at once (the broker went away before confirming: not the row's fault).
  awaitable<void> release(const std::vector<std::string>& ids, const std::string& error);
  awaitable<OutboxBacklog> backlog();
  // Sets the gauges outbox_backlog and outbox_oldest_age_seconds from backlog().
  awaitable<void> report_backlog(Metrics& metrics);

 private:
  PgPool& pool_;
};

}  // namespace os::db
