#include "api/order_handlers.hpp"

#include <charconv>

#include "api/errors.hpp"
#include "domain/order_json.hpp"
#include "domain/trace.hpp"
#include "domain/utf8.hpp"
#include "domain/uuid.hpp"
#include "security/digest.hpp"

namespace os::api {
namespace {
using http::Request;
using http::Response;

constexpr std::size_t kMaxIdempotencyKeyLength = 255;
constexpr int kStatusUpdateAttempts = 5;

Response forbidden() {
  return http::error_response(403, "Not enough permissions");
}
Response not_found() {
  return http::error_response(404, "Order not found");
}

// Validates the {order_id} path parameter; the canonical lower-case form or nullopt.
std::optional<std::string> order_id_param(const Request& request) {
  std::string id(request.path_param("order_id"));
  if (!domain::is_uuid(id)) return std::nullopt;
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return id;
}

Response bad_order_id() {
  return invalid_parameter("path", "order_id", "Input should be a valid UUID", "uuid_parsing");
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

awaitable<void> cache_order(ApiContext& ctx, const domain::Order& order, const std::string& json,
                            bool after_change = true) {
  co_await ctx.order_cache.put(order.id, order.version, order.user_id, json, after_change);
}

}  // namespace

awaitable<Response> create_order(ApiContext& ctx, Request& request) {
  if (!request.has_json_body()) co_return body_not_json();
  auto parsed = domain::parse_create_order(request.body);
  if (auto* errors = std::get_if<domain::Violations>(&parsed)) co_return validation_error(*errors);
  const auto input = std::get<domain::CreateOrder>(std::move(parsed));

  std::optional<db::IdempotencyKey> key;
  if (const auto header = request.header("idempotency-key")) {
    if (!domain::is_visible_ascii(*header)) {
      // It is stored and compared in PostgreSQL: printable ASCII only.
      co_return http::error_response(
          400, "Idempotency-Key header must contain printable ASCII characters only");
    }
    if (header->empty() || header->size() > kMaxIdempotencyKeyLength) {
      co_return invalid_parameter("header", "Idempotency-Key",
                                  "Idempotency-Key must be 1 to 255 characters", "value_error");
    }
    // Hash of the canonical items, so formatting differences are the same request.
    key = db::IdempotencyKey{std::string(*header),
                             security::sha256_hex(domain::items_to_json(input.items))};
  }

  // A named local, not a braced temporary inside co_await (GCC 12 mis-destroys those).
  const domain::TraceContext trace{request.trace_id, request.span_id};
  const std::string traceparent = domain::format_traceparent(trace);
  const auto outcome = co_await ctx.orders.create(request.user_id, input.items, key, traceparent);
  if (outcome.kind == db::CreateOutcome::Kind::KeyReusedWithOtherBody) {
    co_return invalid_parameter("header", "Idempotency-Key",
                                "Idempotency-Key was already used with a different request body",
                                "idempotency_key_reused");
  }
  const bool replayed = outcome.kind == db::CreateOutcome::Kind::Replayed;
  const auto json =
      domain::order_to_json(replayed ? domain::as_first_created(outcome.order) : outcome.order);
  if (outcome.kind == db::CreateOutcome::Kind::Created) {
    co_await ctx.order_cache.put_created(outcome.order, json);
  }
  auto response = http::json_response(201, json);
  response.set_header("Location", "/orders/" + outcome.order.id + "/");
  if (replayed) response.set_header("Idempotent-Replayed", "true");
  co_return response;
}

awaitable<Response> get_order(ApiContext& ctx, Request& request) {
  const auto id = order_id_param(request);
  if (!id) co_return bad_order_id();

  if (auto cached = co_await ctx.order_cache.get(*id)) {
    if (cached->user_id != request.user_id) co_return forbidden();
    auto response = http::json_response(200, cached->json);
    response.set_header("X-Cache", "HIT");
    co_return response;
  }
  const auto order = co_await ctx.orders.find(*id);
  if (!order) co_return not_found();
  if (order->user_id != request.user_id) co_return forbidden();
  const auto json = domain::order_to_json(*order);
  co_await cache_order(ctx, *order, json, /*after_change=*/false);
  auto response = http::json_response(200, json);
  response.set_header("X-Cache", "MISS");
  co_return response;
}

awaitable<Response> update_order_status(ApiContext& ctx, Request& request) {
  const auto id = order_id_param(request);
  if (!id) co_return bad_order_id();
  if (!request.has_json_body()) co_return body_not_json();
  auto parsed = domain::parse_status_update(request.body);
  if (auto* errors = std::get_if<domain::Violations>(&parsed)) co_return validation_error(*errors);
  const auto target = std::get<domain::OrderStatus>(parsed);

  // Compare-and-set on the status, retried if another request changed it meanwhile.
  for (int attempt = 0; attempt < kStatusUpdateAttempts; ++attempt) {
    const auto current = co_await ctx.orders.find(*id);
    if (!current) co_return not_found();
    if (current->user_id != request.user_id) co_return forbidden();
    switch (domain::check_transition(current->status, target)) {
      case domain::Transition::NoOp:
        co_return http::json_response(200, domain::order_to_json(*current));
      case domain::Transition::Forbidden:
        co_return http::error_response(409, "Cannot change order status from " +
                                                std::string(to_string(current->status)) + " to " +
                                                std::string(to_string(target)));
      case domain::Transition::Allowed:
        break;
    }
    if (const auto updated = co_await ctx.orders.update_status(*id, current->status, target)) {
      const auto json = domain::order_to_json(*updated);
      co_await cache_order(ctx, *updated, json);
      co_return http::json_response(200, json);
    }
  }
  co_return http::error_response(409, "Order was modified concurrently; retry");
}

awaitable<Response> list_user_orders(ApiContext& ctx, Request& request) {
  const auto user_id = parse_int(request.path_param("user_id"));
  if (!user_id) {
    co_return invalid_parameter("path", "user_id",
                                "Input should be a valid integer, unable to parse string as an "
                                "integer",
                                "int_parsing");
  }
  int limit = domain::kDefaultPageLimit;
  if (const auto raw = request.query_param("limit")) {
    const auto parsed = parse_int(*raw);
    if (!parsed || *parsed < 1 || *parsed > domain::kMaxPageLimit) {
      co_return invalid_parameter("query", "limit", "Input should be an integer from 1 to 1000",
                                  "value_error");
    }
    limit = static_cast<int>(*parsed);
  }
  std::optional<domain::PageCursor> cursor;
  if (const auto raw = request.query_param("cursor")) {
    cursor = domain::decode_cursor(*raw);
    if (!cursor) co_return invalid_parameter("query", "cursor", "Invalid cursor", "value_error");
  }
  if (*user_id != request.user_id) co_return forbidden();

  const auto page = co_await ctx.orders.list_by_user(*user_id, cursor, limit);
  std::string body = "[";
  for (std::size_t i = 0; i < page.orders.size(); ++i) {
    if (i != 0) body += ',';
    body += domain::order_to_json(page.orders[i]);
  }
  body += ']';
  auto response = http::json_response(200, body);
  if (page.next) {
    response.set_header(
        "Link", "</orders/user/" + std::to_string(*user_id) + "/?limit=" + std::to_string(limit) +
                    "&cursor=" + domain::encode_cursor(*page.next) + ">; rel=\"next\"");
  }
  co_return response;
}

}  // namespace os::api
