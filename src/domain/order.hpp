// The order aggregate: items, status and the transition rules. Pure, no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace os::domain {

enum class OrderStatus { Pending, Paid, Shipped, Canceled };

std::optional<OrderStatus> parse_status(std::string_view text);
std::string_view to_string(OrderStatus status);

enum class Transition { Allowed, NoOp, Forbidden };

// PENDING->PAID|CANCELED, PAID->SHIPPED|CANCELED; same status is a no-op.
Transition check_transition(OrderStatus from, OrderStatus to);

struct OrderItem {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
  std::int64_t price_cents = 0;
};

struct Order {
  std::string id;
  std::int64_t user_id = 0;
  std::vector<OrderItem> items;
  std::int64_t total_cents = 0;
  OrderStatus status = OrderStatus::Pending;
  std::string created_at;
  std::string updated_at;
  std::optional<std::string> processed_at;
  std::int64_t version = 1;  // bumped by every change; orders cache writes
};

std::int64_t compute_total_cents(const std::vector<OrderItem>& items);

// The order as its creation left it (PENDING, not processed, updated when created): what
// POST /orders/ first answered, so that an idempotent replay answers exactly that, as
// Stripe and the IETF Idempotency-Key draft do, whatever happened to the order since.
Order as_first_created(Order order);

}  // namespace os::domain
