// Request-body parsing and validation with FastAPI/pydantic-shaped errors.
#pragma once
#include <boost/json/array.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/order.hpp"

namespace os::domain {

struct FieldError {
  boost::json::array loc;  // e.g. ["body","items",0,"quantity"]
  std::string msg;
  std::string type;
};
using ValidationErrors = std::vector<FieldError>;

template <typename T>
using Validated = std::variant<T, ValidationErrors>;

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
// OAuth2 password flow form: username + password (grant_type, scope ignored).
Validated<Credentials> parse_token_form(std::string_view body);
Validated<CreateOrder> parse_create_order(std::string_view body);
Validated<OrderStatus> parse_status_update(std::string_view body);

// Renders {"detail":[{"loc":…,"msg":…,"type":…}]}.
std::string render_validation_errors(const ValidationErrors& errors);

// A single error at the given location, for path and query parameters.
ValidationErrors single_error(boost::json::array loc, std::string msg, std::string type);

}  // namespace os::domain
