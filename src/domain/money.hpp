// Money as integer cents: exact sums, no float drift (3 x 0.10 == 0.30).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace os::domain {

inline constexpr std::int64_t kMaxPriceCents = 100'000'000;  // 1,000,000.00

// Converts a JSON number to cents; nullopt when it has more than 2 decimals.
std::optional<std::int64_t> cents_from_double(double value);

// Judges a JSON number exactly from its source text ("1000.001", "1e-9", "12.50", "2E3"):
// never through a double. `cents` is set only when `problem` is None.
enum class MoneyProblem { None, NotANumber, NotPositive, TooManyDecimals, TooLarge };
struct MoneyParse {
  std::int64_t cents = 0;
  MoneyProblem problem = MoneyProblem::NotANumber;
};
MoneyParse cents_from_json_number(std::string_view text, std::int64_t max_cents);

// Parses a decimal text such as "20.01" or "7" (as PostgreSQL NUMERIC prints it).
std::optional<std::int64_t> cents_from_decimal(std::string_view text);

// Renders cents the way the original (Python float repr) does: 20.0, 0.3, 20.01.
std::string format_money(std::int64_t cents);

// Renders cents as a plain decimal with two places ("20.01") for SQL NUMERIC.
std::string format_decimal(std::int64_t cents);

}  // namespace os::domain
