// The background roles (relay, consumer, worker, reconcile), each a supervised duty on
// its own thread, and the metrics endpoint that roles without the api expose.
#pragma once
#include "app/process_shared.hpp"
#include "app/role.hpp"
#include "config/settings.hpp"
#include "core/metrics.hpp"

namespace os::app {

// The relay attaches to `shared.relay_doorbell`, so the api of the same process wakes it.
std::unique_ptr<Role> make_relay_role(const config::Settings& settings, Metrics& metrics,
                                      ProcessShared& shared);
std::unique_ptr<Role> make_consumer_role(const config::Settings& settings, Metrics& metrics);
std::unique_ptr<Role> make_worker_role(const config::Settings& settings, Metrics& metrics,
                                       ProcessShared& shared);
std::unique_ptr<Role> make_reconcile_role(const config::Settings& settings, Metrics& metrics);
// GET /metrics and /health on 127.0.0.1:port (API_HOST's address) for roles without the api.
std::unique_ptr<Role> make_metrics_role(const config::Settings& settings, Metrics& metrics,
                                        int port);

void describe_background_metrics(Metrics& metrics);

}  // namespace os::app
