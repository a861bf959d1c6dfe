#include "http/probes.hpp"

namespace os::http {

Response liveness_response() {
  return json_response(200, R"({"status":"ok"})");
}

Response metrics_response(Metrics& metrics) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics.render();
  return r;
}

}  // namespace os::http
