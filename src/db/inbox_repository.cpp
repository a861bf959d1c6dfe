#include "db/inbox_repository.hpp"

namespace os::db {
namespace {
const Statement kRecord{"inbox_record",
                        "INSERT INTO inbox_events (event_id, order_id) VALUES ($1, $2)"
                        " ON CONFLICT (event_id) DO NOTHING RETURNING 1"};
}

awaitable<bool> InboxRepository::record_once(const std::string& event_id,
                                             const std::string& order_id,
                                             const std::function<awaitable<void>()>& handle) {
  auto conn = co_await pool_.acquire();
  co_await pool_.query(conn, "BEGIN");
  std::exception_ptr error;
  bool fresh = false;
  try {
    // A concurrent consumer holding the same event blocks here until it commits.
    fresh = (co_await pool_.execute(conn, kRecord, params(event_id, order_id))).rows() == 1;
    if (fresh) co_await handle();
    co_await pool_.query(conn, "COMMIT");
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    if (!conn->broken()) co_await pool_.query(conn, "ROLLBACK");
    std::rethrow_exception(error);
  }
  co_return fresh;
}

}  // namespace os::db
