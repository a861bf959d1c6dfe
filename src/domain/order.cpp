#include "domain/order.hpp"

#include <array>

namespace os::domain {
namespace {
constexpr std::array<std::string_view, 4> kNames = {"PENDING", "PAID", "SHIPPED", "CANCELED"};
}

std::optional<OrderStatus> parse_status(std::string_view text) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<OrderStatus>(i);
  }
  return std::nullopt;
}

std::string_view to_string(OrderStatus status) {
  return kNames[static_cast<std::size_t>(status)];
}

Transition check_transition(OrderStatus from, OrderStatus to) {
  using S = OrderStatus;
  if (from == to) return Transition::NoOp;
  const bool allowed = (from == S::Pending && (to == S::Paid || to == S::Canceled)) ||
                       (from == S::Paid && (to == S::Shipped || to == S::Canceled));
  return allowed ? Transition::Allowed : Transition::Forbidden;
}

Order as_first_created(Order order) {
  order.status = OrderStatus::Pending;
  order.processed_at.reset();
  order.updated_at = order.created_at;  // both default to the creating statement's now()
  order.version = 1;
  return order;
}

std::int64_t compute_total_cents(const std::vector<OrderItem>& items) {
  std::int64_t total = 0;
  for (const auto& item : items) total += item.price_cents * item.quantity;
  return total;
}

}  // namespace os::domain
