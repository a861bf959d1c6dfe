// Digests as lower-case hex: SHA-256 (migration checksums, idempotency request hashes) and
// SHA-1 (the name Redis gives a Lua script, for EVALSHA).
#pragma once
#include <string>
#include <string_view>

namespace os::security {
std::string sha256_hex(std::string_view data);
std::string sha1_hex(std::string_view data);
}  // namespace os::security
