#include "domain/new_order_event.hpp"

#include <boost/json.hpp>

#include "domain/uuid.hpp"

namespace os::domain {

bool is_valid_event_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxEventIdLength) return false;
  for (const unsigned char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

std::optional<NewOrderEvent> parse_new_order_event(std::string_view body,
                                                   std::string_view message_id, std::string* why) {
  const auto reject = [why](const char* reason) -> std::optional<NewOrderEvent> {
    if (why != nullptr) *why = reason;
    return std::nullopt;
  };
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return reject("malformed new_order message: not a JSON object");
  const auto& obj = value.as_object();
  NewOrderEvent e;
  if (const auto* id = obj.if_contains("order_id"); id && id->is_string()) {
    e.order_id = std::string(id->as_string());
  }
  if (const auto* id = obj.if_contains("event_id"); id && id->is_string()) {
    e.event_id = std::string(id->as_string());
  }
  if (e.event_id.empty()) e.event_id = std::string(message_id);
  if (!is_uuid(e.order_id)) return reject("malformed new_order message: no UUID order_id");
  if (e.event_id.empty()) {
    return reject("malformed new_order message: no event id (event_id or message id)");
  }
  if (!is_valid_event_id(e.event_id)) {
    static_assert(kMaxEventIdLength == 128, "the reason below names the limit");
    return reject(
        "malformed new_order message: the event id must be 1 to 128 visible ASCII characters "
        "(no NUL, control character, space or non-ASCII byte)");
  }
  return e;
}

}  // namespace os::domain
