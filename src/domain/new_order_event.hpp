// The new_order event, declared once: what the outbox publishes for each created order
// (its JSON payload is written by the order-creation statement in
// db/order_repository.cpp), what the consumer parses, the inbox records, the reconciler
// re-enqueues and each process_order task carries.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace os::domain {

struct NewOrderEvent {
  std::string event_id;
  std::string order_id;    // a UUID
  std::string trace_id{};  // from the message's traceparent; "" when unknown
};

// The longest event id accepted (ids are UUIDs; message ids of replayed events may differ).
inline constexpr std::size_t kMaxEventIdLength = 128;

// An event id the inbox can always record: 1 to kMaxEventIdLength visible ASCII
// characters ('!' to '~': no NUL, no control character, no space, no byte above 127).
bool is_valid_event_id(std::string_view id);

// Parses a new_order message body. The event id is the payload's "event_id", else the
// message's id. nullopt for what can never succeed: not a JSON object, no UUID
// "order_id", no event id or one that is not is_valid_event_id (so an id the inbox's
// statement would refuse is dead-lettered at once, alone, never with its batch). `why`,
// when given, receives the reason of a nullopt.
std::optional<NewOrderEvent> parse_new_order_event(std::string_view body,
                                                   std::string_view message_id,
                                                   std::string* why = nullptr);

}  // namespace os::domain
