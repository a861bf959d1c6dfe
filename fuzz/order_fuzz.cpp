// POST /orders/ body: domain::parse_create_order, then what the handler does with the
// result (totals, the jsonb items round trip, the order serializer).
#include <boost/json.hpp>
#include <cstdlib>
#include <variant>

#include "api/validation_errors.hpp"
#include "domain/money.hpp"
#include "domain/order.hpp"
#include "domain/order_json.hpp"
#include "domain/validation.hpp"
#include "fuzz_common.hpp"

namespace json = boost::json;
using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = fuzz::as_text(data, size);
  auto parsed = parse_create_order(body);
  if (auto* errors = std::get_if<Violations>(&parsed)) {
    FUZZ_CHECK(!errors->empty(), fuzz::printable(body));
    for (const auto& violation : *errors) {
      const auto e = os::api::body_error_item(violation);
      FUZZ_CHECK(!e.loc.empty() && e.loc[0] == "body", e.msg);
      FUZZ_CHECK(!e.msg.empty() && !e.type.empty(), e.msg);
    }
    boost::system::error_code ec;
    const auto rendered = os::api::render_violations(*errors);
    json::parse(rendered, ec);
    FUZZ_CHECK(!ec, rendered);
    return 0;
  }
  const auto& order = std::get<CreateOrder>(parsed);
  FUZZ_CHECK(!order.items.empty() && order.items.size() <= kMaxItems, fuzz::printable(body));
  __int128 sum = 0;
  for (const auto& item : order.items) {
    FUZZ_CHECK(item.product_id > 0, fuzz::printable(body));
    FUZZ_CHECK(item.quantity >= 1 && item.quantity <= kMaxQuantity, fuzz::printable(body));
    FUZZ_CHECK(item.price_cents >= 1 && item.price_cents <= kMaxPriceCents, fuzz::printable(body));
    sum += static_cast<__int128>(item.price_cents) * item.quantity;
  }
  const auto total = compute_total_cents(order.items);
  FUZZ_CHECK(static_cast<__int128>(total) == sum, fuzz::printable(body));

  // Stored as jsonb and read back (cache / repository): same items.
  const auto stored = items_to_json(order.items);
  const auto back = items_from_json(stored);
  FUZZ_CHECK(back.has_value() && back->size() == order.items.size(), stored);
  for (std::size_t i = 0; i < back->size(); ++i) {
    const auto& a = order.items[i];
    const auto& b = (*back)[i];
    FUZZ_CHECK(
        a.product_id == b.product_id && a.quantity == b.quantity && a.price_cents == b.price_cents,
        stored);
  }
  Order full;
  full.id = "01890a5d-ac96-774b-bcce-b302099a8057";
  full.user_id = 1;
  full.items = order.items;
  full.total_cents = total;
  full.created_at = full.updated_at = "2026-01-01T00:00:00.000000Z";
  const auto rendered = order_to_json(full);
  boost::system::error_code ec;
  const auto doc = json::parse(rendered, ec);
  FUZZ_CHECK(!ec && doc.is_object(), rendered);

  if (fuzz::strict()) {
    // Issue 8 item 3: the price is exactly the JSON number (no double tolerance): the
    // accepted cents, written as a decimal, must be the same number as the input.
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    const auto raw = json::parse(body, ec, {}, options);
    FUZZ_CHECK(!ec, "accepted body does not re-parse");
    const auto& items = raw.as_object().at("items").as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto& price = items[i].as_object().at("price");
      const auto cents = order.items[i].price_cents;
      bool exact = false;
      if (price.is_double()) {
        exact = std::strtod(format_decimal(cents).c_str(), nullptr) == price.as_double();
      } else if (price.is_int64()) {
        exact = price.as_int64() * 100 == cents;
      } else if (price.is_uint64()) {
        exact = price.as_uint64() * 100 == static_cast<std::uint64_t>(cents);
      }
      FUZZ_CHECK(exact, "price " + json::serialize(price) + " accepted as " +
                            format_decimal(cents) + " in " + fuzz::printable(body));
    }
  }
  return 0;
}
