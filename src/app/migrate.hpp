// `order-service migrate` and RUN_MIGRATIONS_ON_STARTUP.
#pragma once
#include "config/settings.hpp"

namespace os::app {
// Waits up to `wait` for PostgreSQL to accept connections; returns migrations applied.
int run_migrations(const config::Settings& settings, std::chrono::seconds wait);
}  // namespace os::app
