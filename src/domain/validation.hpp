// Request-body parsing and validation: what is wrong with which field, as plain data.
// api/validation_errors renders it in FastAPI/pydantic's 422 shape.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "domain/order.hpp"

namespace os::domain {

// Where in the body: field names and list indexes, e.g. items, 0, quantity. Empty: the
// body as a whole.
using FieldPath = std::vector<std::variant<std::string, std::int64_t>>;

enum class Problem {
  InvalidJson,  // `detail` is the parser's message
  NotAnObject,
  Missing,
  NotAString,
  TooShort,  // a string of fewer than `limit` characters
  TooLong,   // a string of more than `limit` characters
  NotAnEmail,
  ContainsNul,
  NotAList,
  EmptyList,
  TooManyItems,  // a list of more than `limit` items
  NotAnInteger,
  NotANumber,
  NotAboveLimit,    // must be greater than `limit`
  BelowLimit,       // must be at least `limit`
  AboveLimit,       // must be at most `limit`
  TooManyDecimals,  // more than `limit` decimal places
  UnknownStatus,
};

struct Violation {
  FieldPath path;
  Problem problem;
  std::int64_t limit = 0;
  std::string detail;
};
using Violations = std::vector<Violation>;

template <typename T>
using Validated = std::variant<T, Violations>;

inline constexpr std::size_t kMaxItems = 100;
inline constexpr std::int64_t kMaxQuantity = 10'000;
inline constexpr std::size_t kMaxEmailLength = 254;
inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 128;
inline constexpr int kMaxJsonDepth = 32;

struct Credentials {
  std::string email;
  std::string password;
};

struct CreateOrder {
  std::vector<OrderItem> items;
};

// Trims and lower-cases; nullopt when it is not local@domain.tld.
std::optional<std::string> normalize_email(std::string_view raw);

Validated<Credentials> parse_register(std::string_view body);
// OAuth2 password flow form fields (decoded by http::parse_form): username + password;
// grant_type and scope are ignored, the last of a repeated field wins.
Validated<Credentials> parse_token_fields(
    const std::vector<std::pair<std::string, std::string>>& fields);
Validated<CreateOrder> parse_create_order(std::string_view body);
Validated<OrderStatus> parse_status_update(std::string_view body);

}  // namespace os::domain
