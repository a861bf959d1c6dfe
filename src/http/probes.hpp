// The two answers every process serves, whatever its roles: liveness (GET /health) and
// the Prometheus scrape (GET /metrics). The api routes them; roles without the api serve
// them on METRICS_PORT (app/background_roles.cpp).
#pragma once
#include "core/metrics.hpp"
#include "http/request.hpp"

namespace os::http {

// 200 {"status":"ok"}: the process is up (it says nothing of its dependencies).
Response liveness_response();
// The registry in Prometheus' text format.
Response metrics_response(Metrics& metrics);

// Readiness during a graceful stop: from begin_drain() (SIGTERM) on, /ready answers 503
// {"status":"draining"} whatever the dependencies, so load balancers stop routing here
// while the server still serves (process-wide; never reset).
void begin_drain();
bool draining();
Response draining_response();

}  // namespace os::http
