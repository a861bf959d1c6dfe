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
