// order-service: one binary, one subcommand per role.
#include <CLI/CLI.hpp>
#include <iostream>

#include "api/routes.hpp"
#include "app/api_role.hpp"
#include "app/background_roles.hpp"
#include "app/dlq.hpp"
#include "app/migrate.hpp"
#include "app/role.hpp"
#include "app/services.hpp"
#include "config/settings.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"

namespace {

constexpr int kConfigErrorExit = 2;  // also bad command-line arguments
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
      "Enqueue again the task of orders still unprocessed after RECONCILE_AFTER_SECONDS, "
      "and prune every table past its retention (housekeeping)");
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

  auto* dlq = cli.add_subcommand(
      "dlq", "Dead letters: the new_order.dlq queue and the task dead-letter stream");
  dlq->require_subcommand(1);
  auto* dlq_list =
      dlq->add_subcommand("list",
                          "Print the dead letters (id, order id, reason, attempts, when); exit 0, "
                          "1 if a server is unreachable");
  int dlq_limit = 100;
  bool dlq_json = false;
  dlq_list->add_option("--limit", dlq_limit, "Show at most this many")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  dlq_list->add_flag("--json", dlq_json, "One JSON object per line");
  auto* dlq_replay = dlq->add_subcommand(
      "replay",
      "Put dead letters back (events to the exchange, tasks to the task stream); "
      "effects are never duplicated. Exit 0, 1 if a server is unreachable, 2 on bad "
      "arguments or an unknown ID");
  bool dlq_all = false;
  std::vector<std::string> dlq_ids;
  auto* all_flag = dlq_replay->add_flag("--all", dlq_all, "Replay every dead letter");
  auto* ids_option =
      dlq_replay->add_option("ids", dlq_ids, "Event ids / task entry ids (from `dlq list`)");
  all_flag->excludes(ids_option);

  try {
    cli.parse(argc, argv);
    if (*dlq_replay && !dlq_all && dlq_ids.empty()) {
      throw CLI::ValidationError("replay", "give --all or at least one ID");
    }
  } catch (const CLI::ParseError& e) {
    const int status = cli.exit(e);
    return status == 0 ? 0 : kConfigErrorExit;  // --help is 0; bad arguments are 2
  }
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
  os::log::init(settings.log_format == os::config::LogFormat::Json, settings.log_level, component,
                settings.app_name);
  os::app::block_termination_signals();

  try {
    if (*dlq_list) return os::app::dlq_list(settings, dlq_limit, dlq_json);
    if (*dlq_replay) return os::app::dlq_replay(settings, dlq_ids, dlq_all);
    if (*migrate) {
      os::app::run_migrations(settings, std::chrono::seconds(migrate_wait));
      return 0;
    }
    if (settings.run_migrations_on_startup) {
      os::app::run_migrations(settings, std::chrono::seconds(30));
    }
    os::Metrics metrics;
    os::app::describe_metrics(metrics);
    os::app::ProcessShared shared(settings.redis);
    metrics.on_scrape([&shared](os::Metrics& m) {
      m.set("redis_circuit_breaker_state", "", static_cast<double>(shared.breaker.state()));
    });
    std::vector<std::unique_ptr<os::app::Role>> roles;
    os::app::describe_background_metrics(metrics);
    if (*api || *all) roles.push_back(os::app::make_api_role(settings, metrics, shared));
    if (*relay || *all) roles.push_back(os::app::make_relay_role(settings, metrics, shared));
    if (*consumer || *all) roles.push_back(os::app::make_consumer_role(settings, metrics));
    if (*worker || *all) {
      roles.push_back(os::app::make_worker_role(settings, metrics, shared));
    }
    if (*reconcile || *all) roles.push_back(os::app::make_reconcile_role(settings, metrics));
    if (metrics_port == 0) metrics_port = settings.metrics_port;
    // With the api, /metrics is on its port unless METRICS_ON_API_PORT=false.
    const bool api_serves_metrics = (*api || *all) && settings.metrics_on_api_port;
    if (!api_serves_metrics && metrics_port > 0) {
      roles.push_back(os::app::make_metrics_role(settings, metrics, metrics_port));
    }
    return os::app::run_until_signal(roles);
  } catch (const std::exception& e) {
    os::log::error("startup failed", {{"error", e.what()}});
    return kStartupErrorExit;
  }
}
