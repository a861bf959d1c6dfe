// Prices: domain::cents_from_json_number (the number's JSON source text -> cents, exactly),
// compared with an independent exact reference. Precedence between problems is not
// asserted, only that every reported problem is true of the number and that an exactly
// representable, positive, in-range price is accepted with the right cents.
// Input: the first 4 bytes pick max_cents (1..1e12), the rest is the number text
// (inputs that are not JSON-number grammar are skipped).
#include <cstring>
#include <optional>
#include <string>

#include "domain/money.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

namespace {
struct Exact {
  bool negative = false;
  bool zero = true;
  std::string digits;   // significant digits, no leading/trailing zeros
  long long scale = 0;  // value = digits * 10^-scale
};

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
std::optional<Exact> parse_reference(std::string_view s) {
  std::size_t i = 0;
  Exact e;
  if (i < s.size() && s[i] == '-') {
    e.negative = true;
    ++i;
  }
  const auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (!digit(i)) return std::nullopt;
  std::string all;
  long long frac = 0;
  if (s[i] == '0') {
    all += '0';
    ++i;
  } else {
    while (digit(i)) all += s[i++];
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) return std::nullopt;
    while (digit(i)) {
      all += s[i++];
      ++frac;
    }
  }
  long long exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (!digit(i)) return std::nullopt;
    while (digit(i)) {
      exp = exp * 10 + (s[i++] - '0');
      if (exp > 1'000'000'000LL) exp = 1'000'000'000LL;  // saturate: far out of any range
    }
    if (eneg) exp = -exp;
  }
  if (i != s.size()) return std::nullopt;
  const auto first = all.find_first_not_of('0');
  if (first == std::string::npos) return e;  // zero (any sign)
  e.zero = false;
  const auto last = all.find_last_not_of('0');
  e.digits = all.substr(first, last - first + 1);
  const long long trailing = static_cast<long long>(all.size() - 1 - last);
  e.scale = frac - exp - trailing;
  return e;
}

// Cents of a positive exact value with scale <= 2, or nullopt when above `max`.
std::optional<std::int64_t> cents_of(const Exact& e, std::int64_t max) {
  const long long zeros = 2 - e.scale;  // digits * 10^zeros
  if (zeros > 20 || static_cast<long long>(e.digits.size()) + zeros > 19) return std::nullopt;
  __int128 v = 0;
  for (char c : e.digits) v = v * 10 + (c - '0');
  for (long long k = 0; k < zeros; ++k) v *= 10;
  if (v > max) return std::nullopt;
  return static_cast<std::int64_t>(v);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::uint32_t pick = 0;
  std::memcpy(&pick, data, 4);
  static constexpr std::int64_t kMaxes[] = {kMaxPriceCents, 1, 100, 99'999, 1'000'000'000'000};
  const std::int64_t max = kMaxes[pick % 5];
  const auto text = fuzz::as_text(data + 4, size - 4);
  const auto got = cents_from_json_number(text, max);
  const auto ref = parse_reference(text);
  const std::string what = fuzz::printable(text) + " max " + std::to_string(max);
  // The caller passes the source text of a JSON number only (json_numbers_fuzz checks
  // that); other text is outside the contract.
  if (!ref) return 0;
  const bool positive = !ref->zero && !ref->negative;
  const bool two_places = ref->zero || ref->scale <= 2;
  const auto cents = positive && two_places ? cents_of(*ref, max) : std::nullopt;
  switch (got.problem) {
    case MoneyProblem::None:
      FUZZ_CHECK(cents && *cents == got.cents,
                 "accepted as " + std::to_string(got.cents) + " cents: " + what);
      FUZZ_CHECK(got.cents >= 1 && got.cents <= max, what);
      break;
    case MoneyProblem::NotANumber:
      FUZZ_CHECK(false, "a JSON number called not a number: " + what);
      break;
    case MoneyProblem::NotPositive:
      FUZZ_CHECK(!positive, "positive number called not positive: " + what);
      break;
    case MoneyProblem::TooManyDecimals:
      FUZZ_CHECK(!two_places, "2-decimal number called too precise: " + what);
      break;
    case MoneyProblem::TooLarge:
      FUZZ_CHECK(!(positive && two_places && cents), "in-range number called too large: " + what);
      FUZZ_CHECK(positive, "non-positive number called too large: " + what);
      break;
  }
  if (positive && two_places && cents) {
    FUZZ_CHECK(got.problem == MoneyProblem::None, "valid price refused: " + what);
  }
  return 0;
}
