// Orders table access; creating an order also writes its outbox event atomically.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "db/pg_pool.hpp"
#include "db/relay_wakeup.hpp"
#include "domain/order.hpp"
#include "domain/pagination.hpp"

namespace os::db {

struct IdempotencyKey {
  std::string key;
  std::string request_hash;
};

struct CreateOutcome {
  enum class Kind { Created, Replayed, KeyReusedWithOtherBody } kind;
  domain::Order order;  // the new order, or the one the key created first
};

struct OrderPage {
  std::vector<domain::Order> orders;
  std::optional<domain::PageCursor> next;  // set when more rows remain
};

class OrderRepository {
 public:
  explicit OrderRepository(PgPool& pool) : pool_(pool) {}
  // Creates wake the relays through `wakeup` after their commit; `pool`'s sessions must
  // then be made with waking_relays_after_commit (db/relay_wakeup.hpp).
  OrderRepository(PgPool& pool, RelayWakeup& wakeup) : pool_(pool), wakeup_(&wakeup) {}

  // One statement: the order, its new_order outbox row (with the request's W3C
  // traceparent) and the idempotency key.
  awaitable<CreateOutcome> create(std::int64_t user_id, const std::vector<domain::OrderItem>& items,
                                  const std::optional<IdempotencyKey>& key,
                                  const std::string& traceparent);
  awaitable<std::optional<domain::Order>> find(const std::string& id);
  // Compare-and-set on the status; nullopt when the row changed underneath.
  awaitable<std::optional<domain::Order>> update_status(const std::string& id,
                                                        domain::OrderStatus from,
                                                        domain::OrderStatus to);
  awaitable<OrderPage> list_by_user(std::int64_t user_id,
                                    const std::optional<domain::PageCursor>& after, int limit);
  // Sets processed_at if still null and records the run in task_runs, in one statement.
  // Returns the updated order when this run set it; nullopt when it was already set.
  awaitable<std::optional<domain::Order>> mark_processed(const std::string& id,
                                                         const std::string& worker, int attempt,
                                                         std::int64_t started_unix_ms);

 private:
  PgPool& pool_;
  RelayWakeup* wakeup_ = nullptr;  // null: the outbox trigger notifies in the transaction
};

}  // namespace os::db
