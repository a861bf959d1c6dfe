// The HTTP API role.
#pragma once
#include "app/process_shared.hpp"
#include "app/role.hpp"
#include "config/settings.hpp"
#include "core/metrics.hpp"

namespace os::app {
std::unique_ptr<Role> make_api_role(const config::Settings& settings, Metrics& metrics,
                                    ProcessShared& shared);
}
