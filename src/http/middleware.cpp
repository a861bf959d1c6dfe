#include "http/middleware.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

#include "core/capture.hpp"
#include "core/failure.hpp"
#include "core/logging.hpp"
#include "core/overload.hpp"
#include "domain/client_address.hpp"
#include "domain/text.hpp"
#include "domain/trace.hpp"
#include "domain/uuid.hpp"

namespace os::http {
namespace {

// RateLimit-Limit / -Remaining / -Reset (IETF draft), on limited and allowed responses.
void set_rate_limit_headers(Response& r, const RateDecision& d, double capacity) {
  r.set_header("RateLimit-Limit", std::to_string(static_cast<long long>(capacity)));
  r.set_header("RateLimit-Remaining", std::to_string(static_cast<long long>(d.remaining)));
  r.set_header("RateLimit-Reset",
               std::to_string(static_cast<long long>(std::ceil(d.reset_seconds))));
}

// The excess of an overload: refused at once, to be retried (FastAPI's error shape).
Response overloaded_response() {
  auto r = error_response(503, "Service overloaded; retry shortly");
  r.set_header("Retry-After", "1");
  return r;
}

// http_shed_total's labels, a closed set.
const std::string& shed_labels(std::string_view reason) {
  static const std::string in_flight = label("reason", "in_flight");
  static const std::string full = label("reason", reason_label(Overloaded::Reason::QueueFull));
  static const std::string wait = label("reason", reason_label(Overloaded::Reason::WaitExpired));
  return reason == "in_flight" ? in_flight : reason == "queue_full" ? full : wait;
}

// The in-flight count of one io thread, held for as long as a request is handled.
struct InFlight {
  int& n;
  explicit InFlight(int& count) : n(count) { ++n; }
  ~InFlight() { --n; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

void describe_http_metrics(Metrics& m) {
  m.describe("http_requests_total", Metrics::Type::Counter, "HTTP requests by route and status.");
  m.describe("http_request_duration_seconds", Metrics::Type::Histogram,
             "HTTP request latency by route and status.");
  m.describe("http_rate_limited_total", Metrics::Type::Counter, "Requests refused with 429.");
  m.describe(
      "http_shed_total", Metrics::Type::Counter,
      "Requests refused with 503 under overload, by reason: in_flight (HTTP_MAX_IN_FLIGHT), "
      "queue_full (POSTGRES_POOL_MAX_WAITERS), queue_wait (POSTGRES_POOL_MAX_WAIT_SECONDS).");
}

MiddlewareChain::MiddlewareChain(const Router& router, Authenticator& auth, const Cors& cors,
                                 RateLimit* limiter, Metrics& metrics,
                                 const std::vector<std::string>& trusted_proxies, int max_in_flight)
    : router_(router),
      auth_(auth),
      cors_(cors),
      limiter_(limiter),
      metrics_(metrics),
      // Validated at startup (config), so parsing cannot fail here.
      trusted_proxies_(domain::IpNetworks::parse(trusted_proxies).value_or(domain::IpNetworks{})),
      max_in_flight_(max_in_flight) {}

std::string MiddlewareChain::client_ip(const Request& request) const {
  return domain::client_address(request.peer, request.header_values("x-forwarded-for"),
                                trusted_proxies_);
}

awaitable<Response> MiddlewareChain::dispatch(Request& request) {
  if (auto preflight = cors_.preflight(request)) co_return std::move(*preflight);

  const auto match = router_.match(request);
  if (match.route == nullptr) {
    if (!match.allowed.empty()) {
      auto r = error_response(405, "Method Not Allowed");
      r.set_header("Allow", domain::join(match.allowed, ", "));
      co_return r;
    }
    co_return error_response(404, "Not Found");
  }
  const auto& route = *match.route;

  // Shed before any work is spent on the request (rate limit, authentication, its body).
  std::optional<InFlight> counted;
  if (route.options.sheddable) {
    if (in_flight_ >= max_in_flight_) {
      metrics_.add("http_shed_total", shed_labels("in_flight"));
      co_return overloaded_response();
    }
    counted.emplace(in_flight_);
  }

  std::optional<RateDecision> decision;
  if (limiter_ != nullptr && route.options.rate_limited) {
    decision = co_await limiter_->check(request.client_ip);
    if (!decision->allowed) {
      metrics_.add("http_rate_limited_total", "");
      auto r = error_response(429, "rate limit exceeded");
      r.set_header(
          "Retry-After",
          std::to_string(static_cast<long long>(std::ceil(std::max(decision->retry_after, 1.0)))));
      set_rate_limit_headers(r, *decision, limiter_->capacity());
      co_return r;
    }
  }

  if (route.options.requires_auth) {
    std::string failure;
    const auto user = co_await auth_.authenticate(request, failure);
    if (!user) {
      auto r = error_response(401, failure);
      r.set_header("WWW-Authenticate", "Bearer");
      co_return r;
    }
    request.user_id = *user;
  }

  auto response = co_await route.handler(request);
  if (decision) set_rate_limit_headers(response, *decision, limiter_->capacity());
  co_return response;
}

const std::string& MiddlewareChain::request_labels(const Request& request, int status) {
  const auto method = method_label(request.method);
  const std::string_view route = request.route.empty() ? "unmatched" : request.route;
  auto& labels = labels_[{method, route, status}];
  if (labels.empty()) {
    labels = label("method", method) + "," + label("route", route) + "," +
             label("status", std::to_string(status));
  }
  return labels;
}

awaitable<Response> MiddlewareChain::handle(Request& request) {
  const auto started = Clock::now();
  const auto given_id = request.header("x-request-id");
  request.request_id = given_id && acceptable_request_id(*given_id) ? std::string(*given_id)
                                                                    : domain::correlation_hex(16);
  request.client_ip = client_ip(request);
  const auto given_trace = request.header("traceparent");
  const auto parent = given_trace ? domain::parse_traceparent(*given_trace) : std::nullopt;
  const auto trace = parent ? domain::child_span(parent->trace_id) : domain::new_trace();
  request.trace_id = trace.trace_id;
  request.span_id = trace.span_id;

  Response response;
  auto handle = [&]() -> awaitable<void> { response = co_await dispatch(request); };
  auto error = co_await capture(handle());
  std::optional<Failure> failure;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const Overloaded& e) {
      // A bounded queue refused it (expected under overload: no error log per request).
      metrics_.add("http_shed_total", shed_labels(reason_label(e.reason())));
      response = overloaded_response();
      error = nullptr;
    } catch (...) {
    }
  }
  if (error) {
    failure = classify(error);
    if (failure->kind == FailureKind::Transient) {
      // Only the database is fatal to a request: the cache and the rate limiter fall back.
      response = error_response(503, failure->is_down(Dependency::Postgres)
                                         ? "Service temporarily unavailable: database unreachable"
                                         : "Service temporarily unavailable");
      response.set_header("Retry-After", "1");
    } else {
      response = error_response(500, "Internal Server Error");
    }
  }
  if (response.hold.count() > 0) {
    asio::steady_timer hold(co_await asio::this_coro::executor, response.hold);
    boost::system::error_code ignored;
    co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  response.set_header("X-Request-ID", request.request_id);
  response.set_header("traceparent", domain::format_traceparent(request.trace_id, request.span_id));
  cors_.decorate(request, response);

  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const auto& labels = request_labels(request, response.status);
  metrics_.add("http_requests_total", labels);
  metrics_.observe("http_request_duration_seconds", labels, seconds);

  if (failure) {
    log::error("request failed", {{"request_id", request.request_id},
                                  {"trace_id", request.trace_id},
                                  {"path", request.path},
                                  {"status", response.status},
                                  {"error", failure->reason}});
  }
  if (log::enabled(spdlog::level::info)) {
    log::info("request", {{"request_id", request.request_id},
                          {"trace_id", request.trace_id},
                          {"method", request.method},
                          {"path", request.path},
                          {"status", response.status},
                          {"duration_ms", seconds * 1000.0},
                          {"client", request.client_ip},
                          {"user_id", request.user_id}});
  }
  co_return response;
}

}  // namespace os::http
