// SHA-256 as lower-case hex (migration checksums, idempotency request hashes).
#pragma once
#include <string>
#include <string_view>

namespace os::security {
std::string sha256_hex(std::string_view data);
}
