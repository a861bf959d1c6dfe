#include "domain/new_order_event.hpp"

#include <boost/json.hpp>

#include "domain/uuid.hpp"

namespace os::domain {

std::optional<NewOrderEvent> parse_new_order_event(std::string_view body,
                                                   std::string_view message_id) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& obj = value.as_object();
  NewOrderEvent e;
  if (const auto* id = obj.if_contains("order_id"); id && id->is_string()) {
    e.order_id = std::string(id->as_string());
  }
  if (const auto* id = obj.if_contains("event_id"); id && id->is_string()) {
    e.event_id = std::string(id->as_string());
  }
  if (e.event_id.empty()) e.event_id = std::string(message_id);
  if (!is_uuid(e.order_id) || e.event_id.empty() || e.event_id.size() > kMaxEventIdLength) {
    return std::nullopt;
  }
  return e;
}

}  // namespace os::domain
