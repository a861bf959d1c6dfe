#include "db/reconcile_repository.hpp"

namespace os::db {
namespace {
// Any constant unique to this use; pg_try_advisory_xact_lock takes a bigint.
const Statement kLock{"reconcile_lock", "SELECT pg_try_advisory_xact_lock(7305961234001)"};

const Statement kDue{
    "reconcile_due",
    "WITH due AS ("
    "  SELECT o.id, o.created_at,"
    "    (SELECT i.event_id FROM inbox_events i WHERE i.order_id = o.id"
    "      ORDER BY i.received_at DESC LIMIT 1) AS event_id"
    "  FROM orders o"
    "  WHERE o.processed_at IS NULL AND o.created_at < now() - $1::float8 * interval '1 second'"
    "    AND NOT EXISTS (SELECT 1 FROM reconcile_enqueues r WHERE r.order_id = o.id"
    "      AND r.enqueued_at > now() - $2::float8 * interval '1 second')"
    "    AND NOT EXISTS (SELECT 1 FROM inbox_events i WHERE i.order_id = o.id"
    "      AND i.received_at > now() - $2::float8 * interval '1 second')"
    "  ORDER BY o.created_at LIMIT $3::int"
    "), mark AS ("
    "  INSERT INTO reconcile_enqueues (order_id) SELECT id FROM due"
    "  ON CONFLICT (order_id) DO UPDATE"
    "    SET enqueued_at = now(), times = reconcile_enqueues.times + 1"
    ") SELECT id::text, coalesce(event_id, '') FROM due ORDER BY created_at"};

const Statement kOldest{"reconcile_oldest",
                        "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
                        " FROM orders WHERE processed_at IS NULL"};
}  // namespace

awaitable<std::size_t> ReconcileRepository::requeue_due(
    std::chrono::milliseconds after, std::chrono::milliseconds in_flight, int limit,
    const std::function<awaitable<void>(const std::vector<domain::NewOrderEvent>&)>& enqueue) {
  std::size_t count = 0;
  co_await pool_.in_transaction([&](PgPool::Lease& conn) -> awaitable<void> {
    const auto lock = co_await pool_.execute(conn, kLock, params());
    if (!lock.boolean(0, 0)) co_return;
    const auto due = co_await pool_.execute(
        conn, kDue,
        params(std::to_string(after.count() / 1000.0), std::to_string(in_flight.count() / 1000.0),
               std::to_string(limit)));
    std::vector<domain::NewOrderEvent> orders;
    for (int i = 0; i < due.rows(); ++i) {
      orders.push_back({std::string(due.text(i, 1)), std::string(due.text(i, 0))});
    }
    if (!orders.empty()) co_await enqueue(orders);
    count = orders.size();
  });
  co_return count;
}

awaitable<double> ReconcileRepository::oldest_unprocessed_age() {
  const auto r = co_await pool_.execute(kOldest, params());
  co_return std::stod(std::string(r.text(0, 0)));
}

}  // namespace os::db
