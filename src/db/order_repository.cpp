#include "db/order_repository.hpp"

#include "domain/money.hpp"
#include "domain/order_json.hpp"
#include "domain/uuid.hpp"

namespace os::db {
namespace {
using domain::Order;

// Every order query selects these columns from a relation aliased `o`.
#define ORDER_COLUMNS                                                     \
  "o.id, o.user_id, o.items::text, o.total_price::text, o.status::text, " \
  "api_timestamp(o.created_at), api_timestamp(o.updated_at), "            \
  "api_timestamp(o.processed_at), cursor_timestamp(o.created_at), o.version"

// The new order's outbox event, in the statement that inserts the order (`o`), and the
// order's columns. $5: the event's id, $6: its traceparent (or NULL).
#define CREATE_EVENT_AND_RETURN_ORDER                                                            \
  "), event AS ("                                                                                \
  "  INSERT INTO outbox_events (id, event_type, aggregate_id, payload, created_at, traceparent)" \
  "  SELECT $5::uuid, 'new_order', o.id, jsonb_build_object("                                    \
  "    'event_id', $5::uuid, 'event_type', 'new_order',"                                         \
  "    'occurred_at', api_timestamp(o.created_at), 'order_id', o.id, 'user_id', o.user_id,"      \
  "    'total_price', o.total_price, 'status', o.status), o.created_at, $6"                      \
  "  FROM o"                                                                                     \
  ") SELECT " ORDER_COLUMNS " FROM o"

// A create without an Idempotency-Key (most of them): no key CTE to plan and run
// (pgbench, prepared, this insert against the one below with a NULL key: 13-51 % more
// per second over three alternating rounds).
// bench/run has pgbench run this statement (the database's ceiling for POST /orders/).
const Statement kCreate{"orders_create",
                        "WITH o AS ("
                        "  INSERT INTO orders (id, user_id, items, total_price)"
                        "  VALUES ($1, $2, $3::jsonb, $4::numeric)"
                        "  RETURNING *" CREATE_EVENT_AND_RETURN_ORDER};

// With an Idempotency-Key ($7, request hash $8): the order is inserted only if the key
// is new for the user (or older than 24 h); otherwise no row comes back.
const Statement kCreateWithKey{
    "orders_create_with_key",
    "WITH key AS ("
    "  INSERT INTO idempotency_keys (user_id, key, request_hash, order_id)"
    "  VALUES ($2, $7, $8, $1)"
    "  ON CONFLICT (user_id, key) DO UPDATE"
    "    SET request_hash = EXCLUDED.request_hash, order_id = EXCLUDED.order_id,"
    "        created_at = now()"
    "    WHERE idempotency_keys.created_at < now() - interval '24 hours'"
    "  RETURNING 1"
    "), o AS ("
    "  INSERT INTO orders (id, user_id, items, total_price)"
    "  SELECT $1, $2, $3::jsonb, $4::numeric WHERE EXISTS (SELECT 1 FROM key)"
    "  RETURNING *" CREATE_EVENT_AND_RETURN_ORDER};

const Statement kFindKey{"orders_find_idempotency_key",
                         "SELECT k.request_hash, " ORDER_COLUMNS
                         " FROM idempotency_keys k JOIN orders o ON o.id = k.order_id"
                         " WHERE k.user_id = $1 AND k.key = $2"};

const Statement kFind{"orders_find", "SELECT " ORDER_COLUMNS " FROM orders o WHERE o.id = $1"};

const Statement kUpdateStatus{
    "orders_update_status",
    "UPDATE orders o SET status = $3::order_status, updated_at = now(), version = o.version + 1"
    " WHERE o.id = $1 AND o.status = $2::order_status RETURNING " ORDER_COLUMNS};

const Statement kList{
    "orders_list_by_user",
    "SELECT " ORDER_COLUMNS
    " FROM orders o WHERE o.user_id = $1"
    " AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2::timestamptz, $3::uuid))"
    " ORDER BY o.created_at DESC, o.id DESC LIMIT $4"};

const Statement kMarkProcessed{
    "orders_mark_processed",
    "WITH o AS ("
    "  UPDATE orders SET processed_at = now(), updated_at = now(), version = version + 1"
    "  WHERE id = $1 AND processed_at IS NULL RETURNING *"
    "), run AS ("
    "  INSERT INTO task_runs (order_id, worker, attempt, started_at, effective)"
    "  SELECT $1, $2, $3::int, to_timestamp($4::bigint / 1000.0), EXISTS (SELECT 1 FROM o)"
    ") SELECT " ORDER_COLUMNS " FROM o"};
#undef ORDER_COLUMNS

struct Row {
  Order order;
  std::string cursor_created_at;
};

// A column the schema guarantees (CHECK constraints, the enum type) that does not decode
// is a broken invariant: never shown as price 0 or PENDING.
template <typename T>
T decoded(std::optional<T> value, const char* column, std::string_view id) {
  if (!value) {
    throw LogicError("order " + std::string(id) + ": column " + column + " does not decode");
  }
  return std::move(*value);
}

Row read_order(const PgResult& r, int row, int first = 0) {
  Row out;
  Order& o = out.order;
  o.id = r.text(row, first);
  o.user_id = r.integer(row, first + 1);
  o.items = decoded(domain::items_from_json(r.text(row, first + 2)), "items", o.id);
  o.total_cents = decoded(domain::cents_from_decimal(r.text(row, first + 3)), "total_price", o.id);
  o.status = decoded(domain::parse_status(r.text(row, first + 4)), "status", o.id);
  o.created_at = r.text(row, first + 5);
  o.updated_at = r.text(row, first + 6);
  o.processed_at = r.optional_text(row, first + 7);
  out.cursor_created_at = r.text(row, first + 8);
  o.version = r.integer(row, first + 9);
  return out;
}

std::optional<Order> first_order(const PgResult& r) {
  if (r.rows() == 0) return std::nullopt;
  return read_order(r, 0).order;
}

}  // namespace

awaitable<CreateOutcome> OrderRepository::create(std::int64_t user_id,
                                                 const std::vector<domain::OrderItem>& items,
                                                 const std::optional<IdempotencyKey>& key,
                                                 const std::string& traceparent) {
  const auto total = domain::compute_total_cents(items);
  auto args = params(domain::uuid_v7(), std::to_string(user_id), domain::items_to_json(items),
                     domain::format_decimal(total), domain::uuid_v7(),
                     traceparent.empty() ? std::nullopt : std::optional<std::string>(traceparent));
  if (key) {
    args.emplace_back(key->key);
    args.emplace_back(key->request_hash);
  }
  // Twice at most: a key found taken and then gone (housekeeping pruned it in between,
  // past its 24 hours) is free again, so the create is tried once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto created = co_await pool_.execute(key ? kCreateWithKey : kCreate, args);
    if (created.rows() == 1) {
      if (wakeup_ != nullptr) wakeup_->after_commit();
      co_return CreateOutcome{CreateOutcome::Kind::Created, read_order(created, 0).order};
    }
    if (!key) throw LogicError("the order insert returned no row");
    // The key was used before (within 24 h): replay, or refuse a different body.
    const auto existing =
        co_await pool_.execute(kFindKey, params(std::to_string(user_id), key->key));
    if (existing.rows() == 0) continue;
    const bool same = existing.text(0, 0) == key->request_hash;
    co_return CreateOutcome{
        same ? CreateOutcome::Kind::Replayed : CreateOutcome::Kind::KeyReusedWithOtherBody,
        read_order(existing, 0, 1).order};
  }
  throw LogicError("idempotency key taken and gone twice in a row");
}

awaitable<std::optional<Order>> OrderRepository::find(const std::string& id) {
  co_return first_order(co_await pool_.execute(kFind, params(id)));
}

awaitable<std::optional<Order>> OrderRepository::update_status(const std::string& id,
                                                               domain::OrderStatus from,
                                                               domain::OrderStatus to) {
  co_return first_order(
      co_await pool_.execute(kUpdateStatus, params(id, to_string(from), to_string(to))));
}

awaitable<OrderPage> OrderRepository::list_by_user(std::int64_t user_id,
                                                   const std::optional<domain::PageCursor>& after,
                                                   int limit) {
  const auto args = params(std::to_string(user_id),
                           after ? std::optional<std::string>(after->created_at) : std::nullopt,
                           after ? std::optional<std::string>(after->order_id) : std::nullopt,
                           std::to_string(limit + 1));
  const auto r = co_await pool_.execute(kList, args);
  OrderPage page;
  const int shown = std::min(r.rows(), limit);
  page.orders.reserve(static_cast<std::size_t>(shown));
  Row last;
  for (int i = 0; i < shown; ++i) {
    last = read_order(r, i);
    page.orders.push_back(last.order);
  }
  if (r.rows() > limit) page.next = domain::PageCursor{last.cursor_created_at, last.order.id};
  co_return page;
}

awaitable<std::optional<Order>> OrderRepository::mark_processed(const std::string& id,
                                                                const std::string& worker,
                                                                int attempt,
                                                                std::int64_t started_unix_ms) {
  co_return first_order(co_await pool_.execute(
      kMarkProcessed,
      params(id, worker, std::to_string(attempt), std::to_string(started_unix_ms))));
}

}  // namespace os::db
