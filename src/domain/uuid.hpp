// Identifiers: UUIDv7 for orders and events, random hex for request ids and JWT ids.
#pragma once
#include <string>
#include <string_view>

namespace os::domain {

// Time-ordered UUID (RFC 9562 version 7), canonical lower-case text form.
std::string uuid_v7();
// Canonical 8-4-4-4-12 hex form, any version.
bool is_uuid(std::string_view text);
std::string random_hex(std::size_t bytes);

}  // namespace os::domain
