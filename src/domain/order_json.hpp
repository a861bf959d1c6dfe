// The one serializer for an order (API responses and cached values), and the items as
// stored in jsonb. The new_order event is built in SQL, in db/order_repository.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "domain/order.hpp"

namespace os::domain {

// {"id":…,"user_id":…,"items":[…],"total_price":…,"status":…,"created_at":…,…}
std::string order_to_json(const Order& order);

// Items as stored in the orders.items jsonb column.
std::string items_to_json(const std::vector<OrderItem>& items);
std::optional<std::vector<OrderItem>> items_from_json(std::string_view json);

}  // namespace os::domain
