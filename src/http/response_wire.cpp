#include "http/response_wire.hpp"

#include <boost/beast/http/status.hpp>

namespace os::http {
namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// RFC 9110: 1xx, 204 and 304 responses carry no body and no Content-Length.
bool bodiless(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

}  // namespace

std::string serialize_response(const Response& response, const WireFraming& framing) {
  const auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(response.status));
  const bool no_body = bodiless(response.status);
  std::string out;
  std::size_t size = 96 + response.content_type.size() + (no_body ? 0 : response.body.size());
  for (const auto& [name, value] : response.headers) size += name.size() + value.size() + 4;
  out.reserve(size);
  out.append(framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(response.status));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  append_field(out, "Server", "order-service");
  if (!response.content_type.empty()) append_field(out, "Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) append_field(out, name, value);
  // HTTP/1.1 is persistent unless it says otherwise; HTTP/1.0 only when it says so.
  if (framing.version >= 11 && !framing.keep_alive) append_field(out, "Connection", "close");
  if (framing.version < 11 && framing.keep_alive) append_field(out, "Connection", "keep-alive");
  if (!no_body) append_field(out, "Content-Length", std::to_string(response.body.size()));
  out.append("\r\n");
  if (!no_body && !framing.head) out.append(response.body);
  return out;
}

}  // namespace os::http
