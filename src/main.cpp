// order-service: one binary, one subcommand per role.
#include <CLI/CLI.hpp>
#include <iostream>

#include "api/routes.hpp"
#include "app/api_role.hpp"
#include "app/migrate.hpp"
#include "app/pipeline_roles.hpp"
#include "app/role.hpp"
#include "app/services.hpp"
#include "config/settings.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"

namespace {

constexpr int kConfigErrorExit = 2;
constexpr int kStartupErrorExit = 1;

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "order-service: order management API (register, JWT login, orders) on PostgreSQL with a "
      "Redis cache, plus the roles that move new-order events through RabbitMQ to background "
      "workers.\nConfiguration comes from environment variables, optionally from a .env file "
      "(see .env.example)."};
  cli.require_subcommand(1);
  std::string env_file = ".env";
  cli.add_option("--env-file", env_file, "Read settings from this file too (real environment wins)")
      ->capture_default_str();

  auto* api = cli.add_subcommand("api", "Serve the HTTP API (API_HOST:API_PORT)");
  auto* relay = cli.add_subcommand("relay", "Publish outbox events to RabbitMQ");
  auto* consumer = cli.add_subcommand("consumer", "Turn new_order events into process_order tasks");
  auto* worker = cli.add_subcommand("worker", "Run background tasks from the Redis task queue");
  auto* reconcile = cli.add_subcommand(
      "reconcile",
      "Enqueue again the task of orders still unprocessed after RECONCILE_AFTER_SECONDS");
  auto* all =
      cli.add_subcommand("all", "api, relay, consumer, worker and reconcile in one process");
  int metrics_port = 0;
  for (auto* role : {relay, consumer, worker, reconcile}) {
    role->add_option("--metrics-port", metrics_port,
                     "Serve GET /metrics on this port (default METRICS_PORT; 0 = off)");
  }
  auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit");
  int migrate_wait = 30;
  migrate->add_option("--wait", migrate_wait, "Seconds to wait for PostgreSQL to come up")
      ->capture_default_str();

  auto* routes = cli.add_subcommand("routes", "Print the HTTP routes (METHOD /path) and exit");

  CLI11_PARSE(cli, argc, argv);
  if (*routes) {
    for (const auto& r : os::api::route_table()) std::cout << r.method << ' ' << r.pattern << '\n';
    return 0;
  }

  os::config::Settings settings;
  try {
    settings = os::config::load_settings(os::config::process_environment(env_file));
  } catch (const os::config::ConfigError& e) {
    std::cerr << "order-service: configuration error: " << e.what() << "\n";
    return kConfigErrorExit;
  }
  const std::string component = cli.get_subcommands().front()->get_name();
  os::log::init(settings.log_format, settings.log_level, component);
  os::app::block_termination_signals();

  try {
    if (*migrate) {
      os::app::run_migrations(settings, std::chrono::seconds(migrate_wait));
      return 0;
    }
    if (settings.run_migrations_on_startup) {
      os::app::run_migrations(settings, std::chrono::seconds(30));
    }
    os::Metrics metrics;
    os::app::describe_metrics(metrics);
    os::app::SharedCache shared_cache(settings.redis);
    metrics.on_scrape([&shared_cache](os::Metrics& m) {
      m.set("redis_circuit_breaker_state", "", static_cast<double>(shared_cache.breaker.state()));
    });
    std::vector<std::unique_ptr<os::app::Role>> roles;
    os::app::describe_pipeline_metrics(metrics);
    if (*api || *all) roles.push_back(os::app::make_api_role(settings, metrics, shared_cache));
    if (*relay || *all) roles.push_back(os::app::make_relay_role(settings, metrics));
    if (*consumer || *all) roles.push_back(os::app::make_consumer_role(settings, metrics));
    if (*worker || *all) {
      roles.push_back(os::app::make_worker_role(settings, metrics, shared_cache));
    }
    if (*reconcile || *all) roles.push_back(os::app::make_reconcile_role(settings, metrics));
    if (metrics_port == 0) metrics_port = settings.metrics_port;
    if (!*api && !*all && metrics_port > 0) {
      roles.push_back(os::app::make_metrics_role(settings, metrics, metrics_port));
    }
    return os::app::run_until_signal(roles);
  } catch (const std::exception& e) {
    os::log::error("startup failed", {{"error", e.what()}});
    return kStartupErrorExit;
  }
}
