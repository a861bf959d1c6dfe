// Transport-neutral request/response types: handlers never see Beast.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace os::http {

struct Request {
  std::string method;
  std::string target;  // as received, with the query
  std::string path;    // without the query and without a trailing slash
  std::string query;   // raw query string (no '?')
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string peer;       // TCP peer address
  std::string client_ip;  // peer, or X-Forwarded-For when the peer is a trusted proxy
  std::string request_id;
  std::string trace_id;  // W3C trace: the client's (traceparent) or a new one
  std::string span_id;   // this request's span in it
  // Matched route template, for metrics ("" when none); points into the Router, which
  // outlives every request it routes.
  std::string_view route;
  std::map<std::string, std::string, std::less<>> path_params;
  std::int64_t user_id = 0;  // set by authentication
  // False once the client has closed its connection (set by the server; callable from
  // any thread while the request is being handled).
  std::function<bool()> client_connected = [] { return true; };

  std::optional<std::string_view> header(std::string_view lower_name) const;
  // Every line of a header that may be repeated (X-Forwarded-For), in order.
  std::vector<std::string_view> header_values(std::string_view lower_name) const;
  std::optional<std::string> query_param(std::string_view name) const;
  std::string_view path_param(std::string_view name) const;
  // As FastAPI decides: a body is JSON when Content-Type is absent, application/json or
  // application/<anything>+json; a form when it is application/x-www-form-urlencoded.
  bool has_json_body() const;
  bool has_form_body() const;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // Held back this long before it is sent (MiddlewareChain::handle), after the request
  // stopped counting as in flight: for refusals that a client in a tight loop would
  // otherwise repeat at once (a login storm), costing a timer, not the CPU.
  std::chrono::milliseconds hold{0};

  void set_header(std::string name, std::string value);
};

Response json_response(int status, std::string body);
// {"detail": "<message>"}, FastAPI's shape for every non-validation error.
Response error_response(int status, std::string_view detail);

}  // namespace os::http
