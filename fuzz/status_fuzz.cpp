// PATCH /orders/{id}/ body: domain::parse_status_update.
#include <boost/json.hpp>
#include <variant>

#include "api/validation_errors.hpp"
#include "domain/order.hpp"
#include "domain/validation.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = fuzz::as_text(data, size);
  auto parsed = parse_status_update(body);
  if (auto* errors = std::get_if<Violations>(&parsed)) {
    FUZZ_CHECK(!errors->empty(), fuzz::printable(body));
    boost::system::error_code ec;
    boost::json::parse(os::api::render_violations(*errors), ec);
    FUZZ_CHECK(!ec, fuzz::printable(body));
    return 0;
  }
  const auto status = std::get<OrderStatus>(parsed);
  const auto name = to_string(status);
  FUZZ_CHECK(parse_status(name) == status, name);
  // Every accepted status has a defined transition from every status.
  for (auto from :
       {OrderStatus::Pending, OrderStatus::Paid, OrderStatus::Shipped, OrderStatus::Canceled}) {
    const auto t = check_transition(from, status);
    FUZZ_CHECK(t != Transition::NoOp || from == status, name);
  }
  return 0;
}
