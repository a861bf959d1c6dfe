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

}  // namespace os::http
