// A Response as HTTP/1.x bytes, in one string, for one write: the hot path's replacement
// for Beast's serializer (whose buffer-sequence iteration cost ~5 % of a cached GET).
// Same header order and framing as Beast's message + prepare_payload: Server,
// Content-Type, the handler's headers, Connection when needed, Content-Length.
#pragma once
#include <string>

#include "http/request.hpp"

namespace os::http {

struct WireFraming {
  unsigned version = 11;  // the request's: 10 or 11
  bool keep_alive = true;
  bool head = false;  // HEAD: Content-Length of the body, no body
};

std::string serialize_response(const Response& response, const WireFraming& framing);

}  // namespace os::http
