// Identifiers: UUIDv7 for orders and events, random hex for JWT ids, correlation hex for
// request, trace and span ids.
#pragma once
#include <string>
#include <string_view>

namespace os::domain {

// Time-ordered UUID (RFC 9562 version 7), canonical lower-case text form.
std::string uuid_v7();
// Canonical 8-4-4-4-12 hex form, any version.
bool is_uuid(std::string_view text);
// From the system's CSPRNG (OpenSSL): for identifiers that must not be guessable.
std::string random_hex(std::size_t bytes);
// For identifiers that only need to be unique, not secret (request ids, trace and span
// ids): a per-thread xoshiro256** seeded once from the CSPRNG, so the request path pays no
// lock and no DRBG round (RAND_bytes took ~4 % of a cached GET's CPU).
std::string correlation_hex(std::size_t bytes);

}  // namespace os::domain
