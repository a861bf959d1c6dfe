#include "api/system_handlers.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "core/timeout.hpp"

namespace os::api {
namespace {
constexpr Millis kCheckTimeout{800};

const db::Statement kPing{"system_ping", "SELECT 1"};

awaitable<std::string> check_postgres(ApiContext& ctx) {
  try {
    auto ok = co_await with_timeout(
        [&]() -> awaitable<bool> {
          co_await ctx.pg.execute(kPing, db::Params{});
          co_return true;
        }(),
        kCheckTimeout);
    co_return ok ? "ok" : "timeout";
  } catch (const std::exception& e) {
    co_return std::string("error: ") + e.what();
  }
}

awaitable<std::string> check_redis(ApiContext& ctx) {
  try {
    auto reply = co_await with_timeout(ctx.redis.command(cache::cmd("PING")), kCheckTimeout);
    co_return reply ? "ok" : "timeout";
  } catch (const std::exception& e) {
    co_return std::string("error: ") + e.what();
  }
}

// The broker counts as reachable when its AMQP port accepts a connection.
awaitable<std::string> check_rabbitmq(ApiContext& ctx) {
  try {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    asio::ip::tcp::socket socket(ex);
    auto connect = [&]() -> awaitable<bool> {
      auto endpoints = co_await resolver.async_resolve(
          ctx.settings.rabbit.host, std::to_string(ctx.settings.rabbit.port), asio::use_awaitable);
      co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
      co_return true;
    };
    auto ok = co_await with_timeout(connect(), kCheckTimeout);
    co_return ok ? "ok" : "timeout";
  } catch (const std::exception& e) {
    co_return std::string("error: ") + e.what();
  }
}

}  // namespace

awaitable<http::Response> health(ApiContext&, http::Request&) {
  co_return http::json_response(200, R"({"status":"ok"})");
}

awaitable<http::Response> ready(ApiContext& ctx, http::Request&) {
  using namespace asio::experimental::awaitable_operators;
  auto [pg, redis, rabbit] =
      co_await (check_postgres(ctx) && check_redis(ctx) && check_rabbitmq(ctx));
  const bool pg_ok = pg == "ok";
  const bool all_ok = pg_ok && redis == "ok" && rabbit == "ok";
  const boost::json::object body{
      {"status", !pg_ok ? "unavailable" : (all_ok ? "ready" : "degraded")},
      {"checks", {{"postgres", pg}, {"redis", redis}, {"rabbitmq", rabbit}}}};
  co_return http::json_response(pg_ok ? 200 : 503, boost::json::serialize(body));
}

awaitable<http::Response> metrics(ApiContext& ctx, http::Request&) {
  http::Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = ctx.metrics.render();
  co_return r;
}

}  // namespace os::api
