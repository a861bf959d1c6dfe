#include "domain/order_json.hpp"

#include <boost/json.hpp>

#include "domain/money.hpp"

namespace os::domain {
namespace {

void append_items(std::string& out, const std::vector<OrderItem>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ',';
    out += R"({"product_id":)";
    out += std::to_string(items[i].product_id);
    out += R"(,"quantity":)";
    out += std::to_string(items[i].quantity);
    out += R"(,"price":)";
    out += format_money(items[i].price_cents);
    out += '}';
  }
  out += ']';
}

// Values written here are ids, enum names and ISO timestamps: never need escaping.
void append_string(std::string& out, std::string_view value) {
  out += '"';
  out += value;
  out += '"';
}

}  // namespace

std::string order_to_json(const Order& order) {
  std::string out;
  out.reserve(192 + order.items.size() * 56);
  out += R"({"id":)";
  append_string(out, order.id);
  out += R"(,"user_id":)";
  out += std::to_string(order.user_id);
  out += R"(,"items":)";
  append_items(out, order.items);
  out += R"(,"total_price":)";
  out += format_money(order.total_cents);
  out += R"(,"status":)";
  append_string(out, to_string(order.status));
  out += R"(,"created_at":)";
  append_string(out, order.created_at);
  out += R"(,"updated_at":)";
  append_string(out, order.updated_at);
  out += R"(,"processed_at":)";
  if (order.processed_at) {
    append_string(out, *order.processed_at);
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

std::string items_to_json(const std::vector<OrderItem>& items) {
  std::string out;
  append_items(out, items);
  return out;
}

std::optional<std::vector<OrderItem>> items_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) return std::nullopt;
  std::vector<OrderItem> items;
  for (const auto& raw : value.as_array()) {
    const auto* obj = raw.if_object();
    if (obj == nullptr) return std::nullopt;
    const auto* pid = obj->if_contains("product_id");
    const auto* qty = obj->if_contains("quantity");
    const auto* price = obj->if_contains("price");
    if (pid == nullptr || qty == nullptr || price == nullptr) return std::nullopt;
    const auto product_id = boost::json::try_value_to<std::int64_t>(*pid);
    const auto quantity = boost::json::try_value_to<std::int64_t>(*qty);
    const auto price_value = boost::json::try_value_to<double>(*price);
    if (!product_id || !quantity || !price_value) return std::nullopt;
    const auto cents = cents_from_double(*price_value);
    if (!cents) return std::nullopt;
    items.push_back({*product_id, *quantity, *cents});
  }
  return items;
}

}  // namespace os::domain
