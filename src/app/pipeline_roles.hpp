// The event-pipeline roles (relay, consumer, worker, reconcile) and the metrics endpoint that
// standalone roles expose.
#pragma once
#include "app/role.hpp"
#include "app/shared_cache.hpp"
#include "config/settings.hpp"
#include "core/metrics.hpp"

namespace os::app {

std::unique_ptr<Role> make_relay_role(const config::Settings& settings, Metrics& metrics);
std::unique_ptr<Role> make_consumer_role(const config::Settings& settings, Metrics& metrics);
std::unique_ptr<Role> make_worker_role(const config::Settings& settings, Metrics& metrics,
                                       SharedCache& shared);
std::unique_ptr<Role> make_reconcile_role(const config::Settings& settings, Metrics& metrics);
// GET /metrics and /health on 127.0.0.1:port (API_HOST's address) for roles without the api.
std::unique_ptr<Role> make_metrics_role(const config::Settings& settings, Metrics& metrics,
                                        int port);

void describe_pipeline_metrics(Metrics& metrics);

}  // namespace os::app
