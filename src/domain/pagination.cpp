#include "domain/pagination.hpp"

#include <array>

#include "domain/text.hpp"
#include "domain/uuid.hpp"

namespace os::domain {
namespace {
int number(std::string_view text, std::size_t at, std::size_t len) {
  int v = 0;
  for (std::size_t i = at; i < at + len; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

// A well-shaped timestamp that is also a real instant (no 2026-02-30, no 25:00), so that
// PostgreSQL never refuses it.
bool is_real_timestamp(std::string_view ts) {
  const int year = number(ts, 0, 4), month = number(ts, 5, 2), day = number(ts, 8, 2);
  const int hour = number(ts, 11, 2), minute = number(ts, 14, 2), second = number(ts, 17, 2);
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= days && hour <= 23 && minute <= 59 && second <= 59;
}
}  // namespace

std::string encode_cursor(const PageCursor& cursor) {
  return base64url_encode(cursor.created_at + "|" + cursor.order_id);
}

std::optional<PageCursor> decode_cursor(std::string_view text) {
  if (text.empty() || text.size() > 128) return std::nullopt;
  const auto raw = base64url_decode(text);
  if (!raw) return std::nullopt;
  const auto bar = raw->find('|');
  if (bar == std::string::npos) return std::nullopt;
  PageCursor cursor{raw->substr(0, bar), raw->substr(bar + 1)};
  // YYYY-MM-DDTHH:MM:SS.ffffffZ, checked strictly so SQL never sees anything else.
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  if (cursor.created_at.size() != kShape.size()) return std::nullopt;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    const char c = cursor.created_at[i];
    if (kShape[i] == 'd' ? (c < '0' || c > '9') : c != kShape[i]) return std::nullopt;
  }
  if (!is_real_timestamp(cursor.created_at) || !is_uuid(cursor.order_id)) return std::nullopt;
  return cursor;
}

}  // namespace os::domain
