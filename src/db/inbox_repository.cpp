#include "db/inbox_repository.hpp"

#include <set>

namespace os::db {
namespace {
const Statement kRecord{"inbox_record",
                        "INSERT INTO inbox_events (event_id, order_id)"
                        " SELECT * FROM unnest($1::text[], $2::uuid[])"
                        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"};

// PostgreSQL array literal with every element quoted.
std::string array_literal(const std::vector<InboxEvent>& events, bool order_ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i != 0) out += ',';
    out += '"';
    for (char c : order_ids ? events[i].order_id : events[i].event_id) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}
}  // namespace

awaitable<std::vector<InboxEvent>> InboxRepository::record_new(
    const std::vector<InboxEvent>& events,
    const std::function<awaitable<void>(const std::vector<InboxEvent>&)>& handle) {
  std::vector<InboxEvent> fresh;
  co_await pool_.in_transaction([&](PgPool::Lease& conn) -> awaitable<void> {
    // A concurrent consumer holding the same event id blocks here until it commits.
    const auto inserted = co_await pool_.execute(
        conn, kRecord, params(array_literal(events, false), array_literal(events, true)));
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
