// http::MiddlewareChain with fake authenticator and rate limiter: what the transport adds around
// a handler (401, 429 + RateLimit-*, 503 for an unavailable dependency, 500, request ids).
#include "http/middleware.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "core/failure.hpp"

using namespace os;
using namespace os::http;

namespace {

class FakeAuth : public Authenticator {
 public:
  awaitable<std::optional<std::int64_t>> authenticate(const Request& r,
                                                      std::string& failure) override {
    if (r.header("authorization") == std::optional<std::string_view>("Bearer good")) co_return 7;
    failure = "Could not validate credentials";
    co_return std::nullopt;
  }
};

class FakeLimit : public RateLimit {
 public:
  bool allow = true;
  awaitable<RateDecision> check(const std::string&) override {
    co_return RateDecision{allow, allow ? 4.0 : 0.0, 2.5, 1.2};
  }
  double capacity() const override { return 5; }
};

std::string header(const Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<none>";
}

struct Fixture {
  Router router;
  FakeAuth auth;
  FakeLimit limit;
  config::CorsSettings cors_settings{{"*"}, {"*"}, {"*"}, false};
  Cors cors{cors_settings};
  Metrics metrics;
  MiddlewareChain middleware{router, auth, cors, &limit, metrics, {}};

  Fixture() {
    describe_http_metrics(metrics);
    router.add("GET", "/me",
               [](Request& r) -> awaitable<Response> {
                 co_return json_response(200, std::to_string(r.user_id));
               },
               {.requires_auth = true});
    router.add("GET", "/db", [](Request&) -> awaitable<Response> {
      throw DependencyUnavailable(Dependency::Postgres, "connection refused");
      co_return Response{};
    });
    router.add("GET", "/odd", [](Request&) -> awaitable<Response> {
      throw 42;  // not a std::exception, and no message
      co_return Response{};
    });
    router.add("GET", "/bug", [](Request&) -> awaitable<Response> {
      throw std::runtime_error("boom");
      co_return Response{};
    });
  }

  Response run(std::string path, std::vector<std::pair<std::string, std::string>> headers = {}) {
    asio::io_context io;
    Request r;
    r.method = "GET";
    r.target = path;
    r.path = path;
    r.peer = "127.0.0.1";
    r.headers = std::move(headers);
    auto future = asio::co_spawn(io, middleware.handle(r), asio::use_future);
    io.run();
    return future.get();
  }
};

}  // namespace

TEST(HttpMiddleware, AuthenticatedRouteNeedsAValidToken) {
  Fixture f;
  const auto denied = f.run("/me");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(header(denied, "WWW-Authenticate"), "Bearer");
  const auto ok = f.run("/me", {{"authorization", "Bearer good"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "7");
  EXPECT_EQ(header(ok, "RateLimit-Limit"), "5");
  EXPECT_EQ(header(ok, "RateLimit-Remaining"), "4");
  EXPECT_EQ(header(ok, "RateLimit-Reset"), "3");
}

TEST(HttpMiddleware, RateLimitedRequestGets429WithRetryAfter) {
  Fixture f;
  f.limit.allow = false;
  const auto r = f.run("/me", {{"authorization", "Bearer good"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "Retry-After"), "2");
  EXPECT_EQ(header(r, "RateLimit-Remaining"), "0");
}

TEST(HttpMiddleware, UnavailableDatabaseIs503AndABugIs500) {
  Fixture f;
  const auto db = f.run("/db");
  EXPECT_EQ(db.status, 503);
  EXPECT_EQ(header(db, "Retry-After"), "1");
  EXPECT_NE(db.body.find("database unreachable"), std::string::npos) << db.body;
  const auto bug = f.run("/bug");
  EXPECT_EQ(bug.status, 500);
  EXPECT_EQ(bug.body.find("boom"), std::string::npos) << "internal error text leaked";
  EXPECT_EQ(f.run("/odd").status, 500);
}

TEST(HttpMiddleware, RequestIdsAreKeptWhenSaneAndMadeOtherwise) {
  Fixture f;
  EXPECT_EQ(header(f.run("/nowhere", {{"x-request-id", "abc-123"}}), "X-Request-ID"), "abc-123");
  const auto made = header(f.run("/nowhere", {{"x-request-id", "bad id\x01"}}), "X-Request-ID");
  EXPECT_EQ(made.size(), 32u) << made;
  EXPECT_EQ(f.run("/nowhere").status, 404);
}
