// GET /orders/user/{id}/?cursor=…: domain::decode_cursor, and the base64url codec under it.
#include <string>

#include "domain/pagination.hpp"
#include "domain/text.hpp"
#include "domain/uuid.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

namespace {
int num(std::string_view s, std::size_t pos, std::size_t len) {
  int v = 0;
  for (std::size_t i = 0; i < len; ++i) v = v * 10 + (s[pos + i] - '0');
  return v;
}

// Would PostgreSQL accept this YYYY-MM-DDTHH:MM:SS.ffffffZ as a timestamptz?
bool postgres_accepts(std::string_view ts) {
  const int year = num(ts, 0, 4), month = num(ts, 5, 2), day = num(ts, 8, 2);
  const int hour = num(ts, 11, 2), minute = num(ts, 14, 2), second = num(ts, 17, 2);
  const int micros = num(ts, 20, 6);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  if (minute > 59 || second > 60) return false;
  if (hour > 24 || (hour == 24 && (minute != 0 || second != 0 || micros != 0))) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);

  // The codec: any bytes survive encode/decode; decode output re-encodes to a decodable text.
  const auto encoded = base64url_encode(text);
  const auto round = base64url_decode(encoded);
  FUZZ_CHECK(round && *round == text, fuzz::printable(text));
  if (const auto raw = base64url_decode(text)) {
    FUZZ_CHECK(base64url_decode(base64url_encode(*raw)) == *raw, fuzz::printable(text));
  }

  const auto cursor = decode_cursor(text);
  if (!cursor) return 0;
  FUZZ_CHECK(!text.empty() && text.size() <= 128, fuzz::printable(text));
  FUZZ_CHECK(cursor->created_at.size() == 27 && cursor->created_at.back() == 'Z',
             fuzz::printable(cursor->created_at));
  FUZZ_CHECK(is_uuid(cursor->order_id), fuzz::printable(cursor->order_id));
  // Re-encoding gives a cursor that decodes to the same position.
  const auto again = decode_cursor(encode_cursor(*cursor));
  FUZZ_CHECK(
      again && again->created_at == cursor->created_at && again->order_id == cursor->order_id,
      fuzz::printable(text));
  if (fuzz::strict()) {
    // Issue 8: a well-formed but impossible timestamp reached PostgreSQL (500).
    FUZZ_CHECK(postgres_accepts(cursor->created_at),
               "cursor timestamp PostgreSQL refuses: " + cursor->created_at + " from " +
                   fuzz::printable(text));
  }
  return 0;
}
