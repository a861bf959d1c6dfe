// http::Cors: Starlette's CORSMiddleware behaviour.
#include "http/cors.hpp"

#include <gtest/gtest.h>

using namespace os::http;

namespace {
Request request(std::string method, std::vector<std::pair<std::string, std::string>> headers) {
  Request r;
  r.method = std::move(method);
  r.path = "/orders";
  r.headers = std::move(headers);
  return r;
}
std::string header(const Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<none>";
}
os::config::CorsSettings settings(std::vector<std::string> origins, bool credentials = false) {
  os::config::CorsSettings s;
  s.origins = std::move(origins);
  s.methods = {"*"};
  s.headers = {"*"};
  s.credentials = credentials;
  return s;
}
}  // namespace

TEST(Cors, PreflightFromAllowedOriginIsAnsweredHere) {
  const Cors cors(settings({"*"}));
  const auto r = cors.preflight(request("OPTIONS", {{"origin", "http://a.test"},
                                                    {"access-control-request-method", "POST"},
                                                    {"access-control-request-headers", "x-y"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(header(*r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(*r, "Access-Control-Allow-Headers"), "x-y");
  EXPECT_NE(header(*r, "Access-Control-Allow-Methods").find("POST"), std::string::npos);
}

TEST(Cors, DisallowedOriginGetsNoAllowHeader) {
  const Cors cors(settings({"http://good.test"}));
  const auto pre = cors.preflight(request(
      "OPTIONS", {{"origin", "http://evil.test"}, {"access-control-request-method", "GET"}}));
  ASSERT_TRUE(pre.has_value());
  EXPECT_EQ(pre->status, 400);
  EXPECT_EQ(header(*pre, "Access-Control-Allow-Origin"), "<none>");
  Response simple;
  cors.decorate(request("GET", {{"origin", "http://evil.test"}}), simple);
  EXPECT_EQ(header(simple, "Access-Control-Allow-Origin"), "<none>");
}

TEST(Cors, NotAPreflightWithoutOriginOrMethod) {
  const Cors cors(settings({"*"}));
  EXPECT_FALSE(cors.preflight(request("OPTIONS", {{"origin", "http://a.test"}})).has_value());
  EXPECT_FALSE(cors.preflight(request("GET", {{"origin", "http://a.test"}})).has_value());
}

TEST(Cors, CredentialsEchoTheOriginAndVary) {
  const Cors cors(settings({"http://a.test"}, true));
  Response r;
  cors.decorate(request("GET", {{"origin", "http://a.test"}}), r);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://a.test");
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(header(r, "Vary"), "Origin");
}
