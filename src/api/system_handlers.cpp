#include "api/system_handlers.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <memory>
#include <utility>

#include "core/logging.hpp"
#include "core/timeout.hpp"
#include "core/tls.hpp"
#include "http/probes.hpp"

namespace os::api {
namespace {
constexpr Millis kCheckTimeout{800};
// /ready is anonymous: at most one check at a time per io thread (see ready()), so a flood
// of /ready requests cannot make the service open connections to its dependencies at will.

// Anonymous clients learn that a dependency is down, never the internal error text
// (addresses, user names); that goes to the log.
std::string unavailable(const char* what, const std::exception& e) {
  log::debug("readiness check failed", {{"check", what}, {"error", e.what()}});
  return "unavailable";
}

const db::Statement kPing{"system_ping", "SELECT 1"};

awaitable<std::string> check_postgres(ApiContext& ctx) {
  try {
    auto ok = co_await with_timeout(
        [&]() -> awaitable<bool> {
          // Never refused by the pool's overload bound: a busy service is not an unready one.
          co_await ctx.pg.execute_exempt(kPing, db::Params{});
          co_return true;
        }(),
        kCheckTimeout);
    co_return ok ? "ok" : "timeout";
  } catch (const std::exception& e) {
    co_return unavailable("check failed", e);
  }
}

awaitable<std::string> check_redis(ApiContext& ctx) {
  try {
    auto reply = co_await with_timeout(ctx.redis.command(redis::cmd("PING")), kCheckTimeout);
    co_return reply ? "ok" : "timeout";
  } catch (const std::exception& e) {
    co_return unavailable("check failed", e);
  }
}

// The broker counts as reachable when one of its nodes' AMQP port accepts a connection.
awaitable<std::string> check_rabbitmq(ApiContext& ctx) {
  auto ex = co_await asio::this_coro::executor;
  auto connect = [&]() -> awaitable<bool> {
    std::exception_ptr last;
    for (const auto& node : ctx.settings.rabbit.hosts) {
      try {
        asio::ip::tcp::resolver resolver(ex);
        asio::ip::tcp::socket socket(ex);
        auto endpoints = co_await resolver.async_resolve(node.host, std::to_string(node.port),
                                                         asio::use_awaitable);
        co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
        if (ctx.settings.rabbit.tls.enabled) {
          // RABBITMQ_TLS: reachable means a handshake whose certificate verifies, as the
          // relay's and the consumer's connections need.
          asio::ssl::stream<asio::ip::tcp::socket&> stream(
              socket, *tls::client_context(ctx.settings.rabbit.tls));
          tls::expect_peer(stream.native_handle(), node.host);
          boost::system::error_code ec;
          co_await stream.async_handshake(asio::ssl::stream_base::client,
                                          asio::redirect_error(asio::use_awaitable, ec));
          if (ec) {
            throw std::runtime_error("TLS handshake with RabbitMQ at " + node.text() + " failed: " +
                                     tls::handshake_failure(stream.native_handle(), ec));
          }
        }
        co_return true;
      } catch (const std::exception&) {
        last = std::current_exception();
      }
    }
    std::rethrow_exception(last);
  };
  try {
    auto ok = co_await with_timeout(connect(), kCheckTimeout);
    co_return ok ? "ok" : "timeout";
  } catch (const std::exception& e) {
    co_return unavailable("check failed", e);
  }
}

}  // namespace

awaitable<http::Response> health(ApiContext&, http::Request&) {
  co_return http::liveness_response();
}

awaitable<http::Response> ready(ApiContext& ctx, http::Request&) {
  // Stopping (SIGTERM): out of rotation at once, however healthy the dependencies are.
  if (http::draining()) co_return http::draining_response();
  // Single flight per io thread (they are share-nothing): requests that arrive while a
  // check runs wait for it and share its answer.
  struct Flight {
    std::shared_ptr<asio::steady_timer> done;  // cancelled when the check finishes
    int status = 0;
    std::string body;
  };
  thread_local Flight flight;
  if (flight.done) {
    const auto done = flight.done;
    boost::system::error_code ec;
    co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (http::draining()) co_return http::draining_response();  // began during the check
    co_return http::json_response(flight.status, flight.body);
  }
  flight.done = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                     Clock::time_point::max());
  using namespace asio::experimental::awaitable_operators;
  auto [pg, redis, rabbit] =
      co_await (check_postgres(ctx) && check_redis(ctx) && check_rabbitmq(ctx));
  const bool pg_ok = pg == "ok";
  const bool all_ok = pg_ok && redis == "ok" && rabbit == "ok";
  const boost::json::object body{
      {"status", !pg_ok ? "unavailable" : (all_ok ? "ready" : "degraded")},
      {"checks", {{"postgres", pg}, {"redis", redis}, {"rabbitmq", rabbit}}}};
  flight.status = pg_ok ? 200 : 503;
  flight.body = boost::json::serialize(body);
  std::exchange(flight.done, nullptr)->cancel();
  if (http::draining()) co_return http::draining_response();
  co_return http::json_response(flight.status, flight.body);
}

awaitable<http::Response> metrics(ApiContext& ctx, http::Request&) {
  co_return http::metrics_response(ctx.metrics);
}

}  // namespace os::api
