// A new_order message body off the queue: domain::parse_new_order_event never throws on
// any bytes, and what it accepts is what the consumer may enqueue: a UUID order id and
// an event id of 1..kMaxEventIdLength visible ASCII characters (is_valid_event_id), taken
// from the payload or else the message.
#include <string>

#include "domain/new_order_event.hpp"
#include "domain/uuid.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = fuzz::as_text(data, size);
  for (const std::string message_id : {std::string(), std::string("m-1")}) {
    const auto event = parse_new_order_event(body, message_id);
    if (!event) continue;
    FUZZ_CHECK(is_uuid(event->order_id), fuzz::printable(body));
    FUZZ_CHECK(is_valid_event_id(event->event_id), fuzz::printable(body));
    FUZZ_CHECK(event->trace_id.empty(), fuzz::printable(body));
    if (message_id.empty()) continue;
    // The message id only fills in a missing event id.
    const auto without = parse_new_order_event(body, "");
    FUZZ_CHECK(!without || without->event_id == event->event_id, fuzz::printable(body));
  }
  return 0;
}
