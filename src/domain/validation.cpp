#include "domain/validation.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>

#include "domain/form.hpp"
#include "domain/json_numbers.hpp"
#include "domain/money.hpp"

namespace os::domain {
namespace json = boost::json;

namespace {

struct Errors {
  ValidationErrors list;
  void add(json::array loc, std::string msg, std::string type) {
    list.push_back({std::move(loc), std::move(msg), std::move(type)});
  }
};

json::array at(json::array base, json::value part) {
  base.push_back(std::move(part));
  return base;
}

// Parses the body as a JSON object; on failure records the FastAPI-style error.
const json::object* parse_object(std::string_view body, ParsedJson& doc, Errors& errors) {
  boost::system::error_code ec;
  parse_json_keeping_numbers(body, kMaxJsonDepth, doc, ec);
  json::value& storage = doc.value;
  if (ec) {
    errors.add({"body"}, "JSON decode error: " + ec.message(), "json_invalid");
    return nullptr;
  }
  if (!storage.is_object()) {
    errors.add({"body"}, "Input should be a valid dictionary or object to extract fields from",
               "model_attributes_type");
    return nullptr;
  }
  return &storage.as_object();
}

// Strict integer: JSON integers, or floats with no fraction (as pydantic accepts).
std::optional<std::int64_t> as_integer(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  if (v.is_double()) {
    const double d = v.as_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9e15) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

bool is_number(const json::value& v) {
  return v.is_double() || v.is_int64() || v.is_uint64();
}

const json::value* field(const json::object& obj, std::string_view name, const json::array& loc,
                         Errors& errors) {
  const auto* v = obj.if_contains(name);
  if (v == nullptr || v->is_null()) {
    errors.add(at(loc, json::string(name)), "Field required", "missing");
    return nullptr;
  }
  return v;
}

std::optional<std::string> string_field(const json::object& obj, std::string_view name,
                                        const json::array& loc, Errors& errors) {
  const auto* v = field(obj, name, loc, errors);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    errors.add(at(loc, json::string(name)), "Input should be a valid string", "string_type");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

void check_password(std::string_view password, const json::array& loc, Errors& errors) {
  if (password.size() < kMinPasswordLength) {
    errors.add(loc, "String should have at least 8 characters", "string_too_short");
  } else if (password.size() > kMaxPasswordLength) {
    errors.add(loc, "String should have at most 128 characters", "string_too_long");
  }
}

bool valid_domain(std::string_view domain) {
  const auto last_dot = domain.rfind('.');
  if (last_dot == std::string_view::npos) return false;
  const auto tld = domain.substr(last_dot + 1);
  if (tld.size() < 2 ||
      !std::all_of(tld.begin(), tld.end(), [](unsigned char c) { return std::isalpha(c); })) {
    return false;
  }
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const auto label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (unsigned char c : label) {
      if (!std::isalnum(c) && c != '-') return false;
    }
    start = end + 1;
  }
  return true;
}

bool valid_local(std::string_view local) {
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.') {
    return false;
  }
  static constexpr std::string_view kSpecial = "!#$%&'*+/=?^_`{|}~.-";
  for (unsigned char c : local) {
    if (!std::isalnum(c) && kSpecial.find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return local.find("..") == std::string_view::npos;
}

template <typename T>
Validated<T> result(Errors& errors, T value) {
  if (!errors.list.empty()) return std::move(errors.list);
  return value;
}

std::optional<OrderItem> parse_item(const ParsedJson& doc, std::int64_t index,
                                    const json::array& loc, Errors& errors) {
  const json::value& raw = doc.value.as_object().at("items").as_array().at(index);
  if (!raw.is_object()) {
    errors.add(loc, "Input should be a valid dictionary or object to extract fields from",
               "model_attributes_type");
    return std::nullopt;
  }
  const auto& obj = raw.as_object();
  const auto before = errors.list.size();
  OrderItem item;
  if (const auto* v = field(obj, "product_id", loc, errors)) {
    const auto n = as_integer(*v);
    if (!n || v->is_bool()) {
      errors.add(at(loc, "product_id"), "Input should be a valid integer", "int_type");
    } else if (*n <= 0) {
      errors.add(at(loc, "product_id"), "Input should be greater than 0", "greater_than");
    } else {
      item.product_id = *n;
    }
  }
  if (const auto* v = field(obj, "quantity", loc, errors)) {
    const auto n = as_integer(*v);
    if (!n) {
      errors.add(at(loc, "quantity"), "Input should be a valid integer", "int_type");
    } else if (*n < 1) {
      errors.add(at(loc, "quantity"), "Input should be greater than or equal to 1",
                 "greater_than_equal");
    } else if (*n > kMaxQuantity) {
      errors.add(at(loc, "quantity"), "Input should be less than or equal to 10000",
                 "less_than_equal");
    } else {
      item.quantity = *n;
    }
  }
  if (const auto* v = field(obj, "price", loc, errors)) {
    // Judged from the number's text, exactly (no double in between).
    const auto money =
        is_number(*v)
            ? cents_from_json_number(doc.number_text({"items", index, "price"}), kMaxPriceCents)
            : MoneyParse{};
    switch (money.problem) {
      case MoneyProblem::NotANumber:
        errors.add(at(loc, "price"), "Input should be a valid number", "float_type");
        break;
      case MoneyProblem::NotPositive:
        errors.add(at(loc, "price"), "Input should be greater than 0", "greater_than");
        break;
      case MoneyProblem::TooManyDecimals:
        errors.add(at(loc, "price"), "Decimal input should have no more than 2 decimal places",
                   "decimal_max_places");
        break;
      case MoneyProblem::TooLarge:
        errors.add(at(loc, "price"), "Input should be less than or equal to 1000000",
                   "less_than_equal");
        break;
      case MoneyProblem::None:
        item.price_cents = money.cents;
        break;
    }
  }
  if (errors.list.size() != before) return std::nullopt;
  return item;
}

}  // namespace

std::optional<std::string> normalize_email(std::string_view raw) {
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.front())))
    raw.remove_prefix(1);
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);
  if (raw.empty() || raw.size() > kMaxEmailLength) return std::nullopt;
  std::string email(raw);
  std::transform(email.begin(), email.end(), email.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto atpos = email.find('@');
  if (atpos == std::string::npos || email.find('@', atpos + 1) != std::string::npos) {
    return std::nullopt;
  }
  const std::string_view view(email);
  if (!valid_local(view.substr(0, atpos)) || !valid_domain(view.substr(atpos + 1))) {
    return std::nullopt;
  }
  return email;
}

Validated<Credentials> parse_register(std::string_view body) {
  Errors errors;
  ParsedJson storage;
  const auto* obj = parse_object(body, storage, errors);
  if (obj == nullptr) return std::move(errors.list);
  Credentials creds;
  const json::array loc{"body"};
  if (auto email = string_field(*obj, "email", loc, errors)) {
    if (auto normalized = normalize_email(*email)) {
      creds.email = std::move(*normalized);
    } else {
      errors.add(at(loc, "email"), "value is not a valid email address", "value_error");
    }
  }
  if (auto password = string_field(*obj, "password", loc, errors)) {
    check_password(*password, at(loc, "password"), errors);
    creds.password = std::move(*password);
  }
  return result(errors, std::move(creds));
}

Validated<Credentials> parse_token_form(std::string_view body) {
  Errors errors;
  std::optional<std::string> username;
  std::optional<std::string> password;
  for (const auto& [key, value] : parse_form(body)) {  // the last of a repeated key wins
    if (key == "username") username = value;
    if (key == "password") password = value;
  }
  if (!username || username->empty()) {
    errors.add({"body", "username"}, "Field required", "missing");
  } else if (username->find('\0') != std::string::npos) {
    // It is looked up in PostgreSQL, whose text cannot hold NUL (libpq would cut it there).
    errors.add({"body", "username"}, "String should not contain NUL characters", "value_error");
  }
  if (!password || password->empty()) errors.add({"body", "password"}, "Field required", "missing");
  Credentials creds;
  if (username) creds.email = normalize_email(*username).value_or(*username);
  if (password) creds.password = *password;
  return result(errors, std::move(creds));
}

Validated<CreateOrder> parse_create_order(std::string_view body) {
  Errors errors;
  ParsedJson storage;
  const auto* obj = parse_object(body, storage, errors);
  if (obj == nullptr) return std::move(errors.list);
  const json::array loc{"body", "items"};
  CreateOrder order;
  const auto* items = field(*obj, "items", {"body"}, errors);
  if (items == nullptr) return std::move(errors.list);
  if (!items->is_array()) {
    errors.add(loc, "Input should be a valid list", "list_type");
    return std::move(errors.list);
  }
  const auto& array = items->as_array();
  if (array.empty()) {
    errors.add(loc, "List should have at least 1 item after validation, not 0", "too_short");
  } else if (array.size() > kMaxItems) {
    errors.add(loc, "List should have at most 100 items after validation", "too_long");
  } else {
    for (std::size_t i = 0; i < array.size(); ++i) {
      const auto index = static_cast<std::int64_t>(i);
      if (auto item = parse_item(storage, index, at(loc, index), errors)) {
        order.items.push_back(*item);
      }
    }
  }
  return result(errors, std::move(order));
}

Validated<OrderStatus> parse_status_update(std::string_view body) {
  Errors errors;
  ParsedJson storage;
  const auto* obj = parse_object(body, storage, errors);
  if (obj == nullptr) return std::move(errors.list);
  auto text = string_field(*obj, "status", {"body"}, errors);
  if (!text) return std::move(errors.list);
  auto status = parse_status(*text);
  if (!status) {
    errors.add({"body", "status"}, "Input should be 'PENDING', 'PAID', 'SHIPPED' or 'CANCELED'",
               "enum");
    return std::move(errors.list);
  }
  return *status;
}

std::string render_validation_errors(const ValidationErrors& errors) {
  json::array detail;
  for (const auto& e : errors) {
    detail.push_back(json::object{{"loc", e.loc}, {"msg", e.msg}, {"type", e.type}});
  }
  return json::serialize(json::object{{"detail", std::move(detail)}});
}

ValidationErrors single_error(json::array loc, std::string msg, std::string type) {
  return {FieldError{std::move(loc), std::move(msg), std::move(type)}};
}

}  // namespace os::domain
