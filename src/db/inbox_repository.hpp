// The consumer's inbox: remembers handled event ids so a redelivery does nothing.
#pragma once
#include <functional>
#include <string>

#include "db/pg_pool.hpp"

namespace os::db {

class InboxRepository {
 public:
  explicit InboxRepository(PgPool& pool) : pool_(pool) {}

  // In one transaction: records the event and, only if it is new, runs `handle`
  // (enqueueing the task). If `handle` throws, nothing is recorded. Returns false for a
  // duplicate.
  awaitable<bool> record_once(const std::string& event_id, const std::string& order_id,
                              const std::function<awaitable<void>()>& handle);

 private:
  PgPool& pool_;
};

}  // namespace os::db
