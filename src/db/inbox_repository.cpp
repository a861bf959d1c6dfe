#include "db/inbox_repository.hpp"

#include <set>

namespace os::db {
namespace {
const Statement kRecord{"inbox_record",
                        "INSERT INTO inbox_events (event_id, order_id)"
                        " SELECT * FROM unnest($1::text[], $2::uuid[])"
                        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"};

// One column of the events, as a PostgreSQL array literal.
std::string column_literal(const std::vector<domain::NewOrderEvent>& events, bool order_ids) {
  std::vector<std::string> column;
  column.reserve(events.size());
  for (const auto& e : events) column.push_back(order_ids ? e.order_id : e.event_id);
  return array_literal(column);
}
}  // namespace

awaitable<std::vector<domain::NewOrderEvent>> InboxRepository::record_new(
    const std::vector<domain::NewOrderEvent>& events,
    const std::function<awaitable<void>(const std::vector<domain::NewOrderEvent>&)>& handle) {
  std::vector<domain::NewOrderEvent> fresh;
  co_await pool_.in_transaction([&](PgPool::Lease& conn) -> awaitable<void> {
    // A concurrent consumer holding the same event id blocks here until it commits.
    PgResult inserted;
    try {
      inserted = co_await pool_.execute(
          conn, kRecord, params(column_literal(events, false), column_literal(events, true)));
    } catch (const PgError& e) {
      if (!e.sqlstate().starts_with("22")) throw;
      throw PermanentFailure("the inbox cannot record the event (" + e.sqlstate() +
                             "): " + e.what());
    }
    std::set<std::string> ids;
    for (int i = 0; i < inserted.rows(); ++i) ids.emplace(inserted.text(i, 0));
    for (const auto& e : events) {
      if (ids.erase(e.event_id) == 1) fresh.push_back(e);
    }
    if (!fresh.empty()) co_await handle(fresh);
  });
  co_return fresh;
}

}  // namespace os::db
