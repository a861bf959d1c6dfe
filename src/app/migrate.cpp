#include "app/migrate.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "db/migrations.hpp"

namespace os::app {

int run_migrations(const config::Settings& settings, std::chrono::seconds wait) {
  asio::io_context io;
  auto job = [&]() -> awaitable<int> {
    const auto deadline = Clock::now() + wait;
    for (;;) {
      std::unique_ptr<db::PgConnection> conn;
      try {
        conn = co_await db::PgConnection::connect(io.get_executor(), settings.postgres.conninfo,
                                                  settings.postgres.connect_timeout);
      } catch (const db::PgUnavailable& e) {
        // Waiting helps while the server starts, never for bad credentials or names.
        const std::string why = e.what();
        const bool permanent = why.find("authentication failed") != std::string::npos ||
                               why.find("does not exist") != std::string::npos;
        if (permanent || Clock::now() >= deadline) throw;
        log::warn("waiting for PostgreSQL", {{"error", e.what()}});
      }
      if (conn) co_return co_await db::migrate(*conn);
      co_await sleep_for(Millis(500));
    }
  };
  auto result = asio::co_spawn(io, job(), asio::use_future);
  io.run();
  const int applied = result.get();
  log::info("migrations up to date",
            {{"applied", applied}, {"database", settings.postgres.display}});
  return applied;
}

}  // namespace os::app
