// Keyset pagination cursor for order listings: (created_at, id) of the last row seen.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace os::domain {

struct PageCursor {
  std::string created_at;  // ISO-8601 UTC with microseconds, e.g. 2026-01-01T12:00:00.123456Z
  std::string order_id;
};

inline constexpr int kDefaultPageLimit = 100;
inline constexpr int kMaxPageLimit = 1000;

// Opaque, URL-safe text (base64url of "<created_at>|<uuid>").
std::string encode_cursor(const PageCursor& cursor);
std::optional<PageCursor> decode_cursor(std::string_view text);

}  // namespace os::domain
