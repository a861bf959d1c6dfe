// The consumer's inbox: remembers handled event ids so a redelivery does nothing.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "db/pg_pool.hpp"

namespace os::db {

struct InboxEvent {
  std::string event_id;
  std::string order_id;
  std::string trace_id = {};  // carried to the task, not stored
};

class InboxRepository {
 public:
  explicit InboxRepository(PgPool& pool) : pool_(pool) {}

  // In one transaction: records the events and runs `handle` with those not seen
  // before (it enqueues their tasks). If `handle` throws, nothing is recorded.
  // Returns the new ones.
  awaitable<std::vector<InboxEvent>> record_new(
      const std::vector<InboxEvent>& events,
      const std::function<awaitable<void>(const std::vector<InboxEvent>&)>& handle);

 private:
  PgPool& pool_;
};

}  // namespace os::db
