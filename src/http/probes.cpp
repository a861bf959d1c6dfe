#include "http/probes.hpp"

#include <atomic>

namespace os::http {
namespace {
std::atomic<bool> g_draining{false};
}  // namespace

Response liveness_response() {
  return json_response(200, R"({"status":"ok"})");
}

Response metrics_response(Metrics& metrics) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics.render();
  return r;
}

void begin_drain() {
  g_draining.store(true);
}

bool draining() {
  return g_draining.load(std::memory_order_relaxed);
}

Response draining_response() {
  return json_response(503, R"({"status":"draining"})");
}

}  // namespace os::http
