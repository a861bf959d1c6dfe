#include "domain/validation.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>

#include "domain/json_numbers.hpp"
#include "domain/money.hpp"
#include "domain/text.hpp"

namespace os::domain {
namespace json = boost::json;

namespace {

struct Errors {
  Violations list;
  void add(FieldPath path, Problem problem, std::int64_t limit = 0, std::string detail = {}) {
    list.push_back({std::move(path), problem, limit, std::move(detail)});
  }
};

FieldPath at(FieldPath base, FieldPath::value_type part) {
  base.push_back(std::move(part));
  return base;
}

// Parses the body as a JSON object; on failure records why.
const json::object* parse_object(std::string_view body, ParsedJson& doc, Errors& errors) {
  boost::system::error_code ec;
  parse_json_keeping_numbers(body, kMaxJsonDepth, doc, ec);
  json::value& storage = doc.value;
  if (ec) {
    errors.add({}, Problem::InvalidJson, 0, ec.message());
    return nullptr;
  }
  if (!storage.is_object()) {
    errors.add({}, Problem::NotAnObject);
    return nullptr;
  }
  return &storage.as_object();
}

// A body that must be a JSON object, read by `read(doc, object, errors)`: its value, or
// every violation found.
template <typename T, typename Read>
Validated<T> read_object(std::string_view body, Read read) {
  Errors errors;
  ParsedJson doc;
  const auto* obj = parse_object(body, doc, errors);
  if (obj == nullptr) return std::move(errors.list);
  T value = read(doc, *obj, errors);
  if (!errors.list.empty()) return std::move(errors.list);
  return value;
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

const json::value* field(const json::object& obj, std::string_view name, const FieldPath& path,
                         Errors& errors) {
  const auto* v = obj.if_contains(name);
  if (v == nullptr || v->is_null()) {
    errors.add(at(path, std::string(name)), Problem::Missing);
    return nullptr;
  }
  return v;
}

std::optional<std::string> string_field(const json::object& obj, std::string_view name,
                                        const FieldPath& path, Errors& errors) {
  const auto* v = field(obj, name, path, errors);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    errors.add(at(path, std::string(name)), Problem::NotAString);
    return std::nullopt;
  }
  return std::string(v->as_string());
}

void check_password(std::string_view password, const FieldPath& path, Errors& errors) {
  if (password.size() < kMinPasswordLength) {
    errors.add(path, Problem::TooShort, kMinPasswordLength);
  } else if (password.size() > kMaxPasswordLength) {
    errors.add(path, Problem::TooLong, kMaxPasswordLength);
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

std::optional<OrderItem> parse_item(const ParsedJson& doc, std::int64_t index,
                                    const FieldPath& path, Errors& errors) {
  const json::value& raw = doc.value.as_object().at("items").as_array().at(index);
  if (!raw.is_object()) {
    errors.add(path, Problem::NotAnObject);
    return std::nullopt;
  }
  const auto& obj = raw.as_object();
  const auto before = errors.list.size();
  OrderItem item;
  if (const auto* v = field(obj, "product_id", path, errors)) {
    const auto n = as_integer(*v);
    if (!n || v->is_bool()) {
      errors.add(at(path, "product_id"), Problem::NotAnInteger);
    } else if (*n <= 0) {
      errors.add(at(path, "product_id"), Problem::NotAboveLimit, 0);
    } else {
      item.product_id = *n;
    }
  }
  if (const auto* v = field(obj, "quantity", path, errors)) {
    const auto n = as_integer(*v);
    if (!n) {
      errors.add(at(path, "quantity"), Problem::NotAnInteger);
    } else if (*n < 1) {
      errors.add(at(path, "quantity"), Problem::BelowLimit, 1);
    } else if (*n > kMaxQuantity) {
      errors.add(at(path, "quantity"), Problem::AboveLimit, kMaxQuantity);
    } else {
      item.quantity = *n;
    }
  }
  if (const auto* v = field(obj, "price", path, errors)) {
    // Judged from the number's text, exactly (no double in between).
    const auto money =
        is_number(*v)
            ? cents_from_json_number(doc.number_text({"items", index, "price"}), kMaxPriceCents)
            : MoneyParse{};
    switch (money.problem) {
      case MoneyProblem::NotANumber:
        errors.add(at(path, "price"), Problem::NotANumber);
        break;
      case MoneyProblem::NotPositive:
        errors.add(at(path, "price"), Problem::NotAboveLimit, 0);
        break;
      case MoneyProblem::TooManyDecimals:
        errors.add(at(path, "price"), Problem::TooManyDecimals, 2);
        break;
      case MoneyProblem::TooLarge:
        errors.add(at(path, "price"), Problem::AboveLimit, kMaxPriceCents / 100);
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
  std::string email = trim(raw, " \t\n\v\f\r");  // what isspace() calls space
  if (email.empty() || email.size() > kMaxEmailLength) return std::nullopt;
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

namespace {

// The readers of the JSON bodies, for read_object.

Credentials read_register(const ParsedJson&, const json::object& obj, Errors& errors) {
  Credentials creds;
  if (auto email = string_field(obj, "email", {}, errors)) {
    if (auto normalized = normalize_email(*email)) {
      creds.email = std::move(*normalized);
    } else {
      errors.add({"email"}, Problem::NotAnEmail);
    }
  }
  if (auto password = string_field(obj, "password", {}, errors)) {
    check_password(*password, {"password"}, errors);
    creds.password = std::move(*password);
  }
  return creds;
}

CreateOrder read_create_order(const ParsedJson& doc, const json::object& obj, Errors& errors) {
  const FieldPath path{"items"};
  CreateOrder order;
  const auto* items = field(obj, "items", {}, errors);
  if (items == nullptr) return order;
  if (!items->is_array()) {
    errors.add(path, Problem::NotAList);
    return order;
  }
  const auto& array = items->as_array();
  if (array.empty()) {
    errors.add(path, Problem::EmptyList);
  } else if (array.size() > kMaxItems) {
    errors.add(path, Problem::TooManyItems, kMaxItems);
  } else {
    for (std::size_t i = 0; i < array.size(); ++i) {
      const auto index = static_cast<std::int64_t>(i);
      if (auto item = parse_item(doc, index, at(path, index), errors)) {
        order.items.push_back(*item);
      }
    }
  }
  return order;
}

OrderStatus read_status_update(const ParsedJson&, const json::object& obj, Errors& errors) {
  const auto text = string_field(obj, "status", {}, errors);
  const auto status = text ? parse_status(*text) : std::nullopt;
  if (text && !status) errors.add({"status"}, Problem::UnknownStatus);
  return status.value_or(OrderStatus::Pending);  // with a violation recorded, unused
}

}  // namespace

Validated<Credentials> parse_register(std::string_view body) {
  return read_object<Credentials>(body, read_register);
}

Validated<Credentials> parse_token_fields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  Errors errors;
  std::optional<std::string> username;
  std::optional<std::string> password;
  for (const auto& [key, value] : fields) {  // the last of a repeated key wins
    if (key == "username") username = value;
    if (key == "password") password = value;
  }
  if (!username || username->empty()) {
    errors.add({"username"}, Problem::Missing);
  } else if (username->find('\0') != std::string::npos) {
    // It is looked up in PostgreSQL, whose text cannot hold NUL (libpq would cut it there).
    errors.add({"username"}, Problem::ContainsNul);
  }
  if (!password || password->empty()) errors.add({"password"}, Problem::Missing);
  if (!errors.list.empty()) return std::move(errors.list);
  return Credentials{normalize_email(*username).value_or(*username), *password};
}

Validated<CreateOrder> parse_create_order(std::string_view body) {
  return read_object<CreateOrder>(body, read_create_order);
}

Validated<OrderStatus> parse_status_update(std::string_view body) {
  return read_object<OrderStatus>(body, read_status_update);
}

}  // namespace os::domain
