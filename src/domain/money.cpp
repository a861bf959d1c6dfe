#include "domain/money.hpp"

#include <charconv>
#include <cmath>

namespace os::domain {

std::optional<std::int64_t> cents_from_double(double value) {
  if (!std::isfinite(value) || std::fabs(value) > 1e13) return std::nullopt;
  const double scaled = value * 100.0;
  const double rounded = std::nearbyint(scaled);
  // Tolerance covers binary representation error of 2-decimal values only.
  if (std::fabs(scaled - rounded) > 1e-6 * std::max(1.0, std::fabs(scaled))) return std::nullopt;
  return static_cast<std::int64_t>(rounded);
}

MoneyParse cents_from_json_number(std::string_view text, std::int64_t max_cents) {
  // JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  std::string digits;      // significant digits, integer part then fraction
  long long exponent = 0;  // value = digits * 10^exponent
  std::size_t i = 0;
  auto is_digit = [&](std::size_t k) {
    return k < text.size() && text[k] >= '0' && text[k] <= '9';
  };
  if (!is_digit(0)) return {};
  while (is_digit(i)) digits += text[i++];
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!is_digit(i)) return {};
    while (is_digit(i)) {
      digits += text[i++];
      --exponent;
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    if (!is_digit(i)) return {};
    long long e = 0;
    while (is_digit(i)) {
      // Saturate: an exponent this large only matters for its sign.
      if (e < 1'000'000'000) e = e * 10 + (text[i] - '0');
      ++i;
    }
    exponent += exp_negative ? -e : e;
  }
  if (i != text.size()) return {};
  // Drop leading zeros, and trailing zeros into the exponent (1.100 has 2 decimals).
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return {0, MoneyProblem::NotPositive};  // 0, -0, 0e5
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  if (negative) return {0, MoneyProblem::NotPositive};
  if (exponent < -2) return {0, MoneyProblem::TooManyDecimals};
  // cents = digits * 10^(exponent + 2); compare its length to max_cents' before computing.
  const long long cents_digits = static_cast<long long>(digits.size()) + exponent + 2;
  if (cents_digits > static_cast<long long>(std::to_string(max_cents).size())) {
    return {0, MoneyProblem::TooLarge};
  }
  std::int64_t cents = 0;
  for (char c : digits) cents = cents * 10 + (c - '0');
  for (long long k = 0; k < exponent + 2; ++k) cents *= 10;
  if (cents > max_cents) return {0, MoneyProblem::TooLarge};
  return {cents, MoneyProblem::None};
}

std::optional<std::int64_t> cents_from_decimal(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  while (frac.size() > 2 && frac.back() == '0') frac.remove_suffix(1);
  if (whole.empty() || frac.size() > 2) return std::nullopt;
  std::int64_t units = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), units);
  if (ec != std::errc{} || p != whole.data() + whole.size()) return std::nullopt;
  std::int64_t fraction = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    const char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    fraction = fraction * 10 + (c - '0');
  }
  const std::int64_t cents = units * 100 + fraction;
  return negative ? -cents : cents;
}

std::string format_money(std::int64_t cents) {
  std::string out = cents < 0 ? "-" : "";
  const std::int64_t abs = cents < 0 ? -cents : cents;
  out += std::to_string(abs / 100);
  const auto frac = abs % 100;
  out += '.';
  if (frac == 0) {
    out += '0';
  } else {
    out += static_cast<char>('0' + frac / 10);
    if (frac % 10 != 0) out += static_cast<char>('0' + frac % 10);
  }
  return out;
}

std::string format_decimal(std::int64_t cents) {
  std::string out = cents < 0 ? "-" : "";
  const std::int64_t abs = cents < 0 ? -cents : cents;
  out += std::to_string(abs / 100);
  out += '.';
  out += static_cast<char>('0' + (abs % 100) / 10);
  out += static_cast<char>('0' + abs % 10);
  return out;
}

}  // namespace os::domain
