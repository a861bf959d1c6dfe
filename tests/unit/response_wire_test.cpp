#include <gtest/gtest.h>

#include "http/response_wire.hpp"

using namespace os::http;

namespace {
Response json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
}  // namespace

TEST(ResponseWire, KeepAliveHttp11) {
  auto r = json(200, R"({"a":1})");
  r.headers.emplace_back("X-Request-ID", "abc");
  EXPECT_EQ(serialize_response(r, {}),
            "HTTP/1.1 200 OK\r\nServer: order-service\r\nContent-Type: application/json\r\n"
            "X-Request-ID: abc\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(ResponseWire, ClosingHttp11SaysSo) {
  const auto wire = serialize_response(json(404, "{}"), {.version = 11, .keep_alive = false});
  EXPECT_EQ(wire.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0U);
  EXPECT_NE(wire.find("\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"), std::string::npos);
}

TEST(ResponseWire, Http10KeepAliveOnlyWhenAsked) {
  const auto kept = serialize_response(json(201, "{}"), {.version = 10, .keep_alive = true});
  EXPECT_EQ(kept.rfind("HTTP/1.0 201 Created\r\n", 0), 0U);
  EXPECT_NE(kept.find("Connection: keep-alive\r\n"), std::string::npos);
  const auto closed = serialize_response(json(201, "{}"), {.version = 10, .keep_alive = false});
  EXPECT_EQ(closed.find("Connection:"), std::string::npos);
}

TEST(ResponseWire, HeadHasTheLengthButNoBody) {
  const auto wire = serialize_response(json(200, "hello"), {.head = true});
  EXPECT_NE(wire.find("Content-Length: 5\r\n\r\n"), std::string::npos);
  EXPECT_EQ(wire.substr(wire.size() - 4), "\r\n\r\n");
}

TEST(ResponseWire, NoContentAndNotModifiedCarryNoFraming) {
  for (int status : {204, 304}) {
    const auto wire = serialize_response(json(status, ""), {});
    EXPECT_EQ(wire.find("Content-Length"), std::string::npos) << status;
    EXPECT_EQ(wire.substr(wire.size() - 4), "\r\n\r\n") << status;
  }
}

TEST(ResponseWire, NoContentTypeWhenEmpty) {
  auto r = json(200, "x");
  r.content_type.clear();
  EXPECT_EQ(serialize_response(r, {}).find("Content-Type"), std::string::npos);
}
