// http::Router: templates, trailing slashes, 405 with the allowed methods.
#include "http/router.hpp"

#include <gtest/gtest.h>

using namespace os;
using namespace os::http;

namespace {
Handler ok() {
  return [](Request&) -> awaitable<Response> { co_return json_response(200, "{}"); };
}
Request get(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = normalize_path(path);
  r.target = path;
  return r;
}
}  // namespace

TEST(Router, MatchesTemplatesAndFillsParams) {
  Router router;
  router.add("GET", "/orders/{order_id}", ok(), {.requires_auth = true});
  router.add("GET", "/orders", ok());
  auto r = get("GET", "/orders/abc/");
  const auto m = router.match(r);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/orders/{order_id}");
  EXPECT_TRUE(m.route->options.requires_auth);
  EXPECT_EQ(r.path_param("order_id"), "abc");
  EXPECT_EQ(r.route, "/orders/{order_id}");
  auto list = get("GET", "/orders");
  ASSERT_NE(router.match(list).route, nullptr);
  EXPECT_EQ(router.match(list).route->pattern, "/orders");
}

TEST(Router, UnknownPathAndWrongMethod) {
  Router router;
  router.add("GET", "/orders/{order_id}", ok());
  router.add("PATCH", "/orders/{order_id}", ok());
  auto missing = get("GET", "/nothing/here");
  const auto none = router.match(missing);
  EXPECT_EQ(none.route, nullptr);
  EXPECT_TRUE(none.allowed.empty());
  auto wrong = get("DELETE", "/orders/1");
  const auto m = router.match(wrong);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "PATCH"}));
  auto deeper = get("GET", "/orders/1/items");
  EXPECT_EQ(router.match(deeper).route, nullptr);
}

TEST(Router, NormalizePathStripsOneTrailingSlash) {
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("/orders/"), "/orders");
  EXPECT_EQ(normalize_path("/orders"), "/orders");
}
