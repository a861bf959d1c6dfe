// The consumer's inbox: remembers handled event ids so a redelivery does nothing.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "db/pg_pool.hpp"
#include "domain/new_order_event.hpp"

namespace os::db {

class InboxRepository {
 public:
  explicit InboxRepository(PgPool& pool) : pool_(pool) {}

  // In one transaction: records the events and runs `handle` with those not seen
  // before (it enqueues their tasks). If `handle` throws, nothing is recorded.
  // Returns the new ones. An event the statement refuses as data (SQLSTATE class 22: an
  // invalid text or uuid, an untranslatable character) throws PermanentFailure: for a
  // single event, retrying can never help (the consumer splits a batch that meets one).
  awaitable<std::vector<domain::NewOrderEvent>> record_new(
      const std::vector<domain::NewOrderEvent>& events,
      const std::function<awaitable<void>(const std::vector<domain::NewOrderEvent>&)>& handle);

 private:
  PgPool& pool_;
};

}  // namespace os::db
