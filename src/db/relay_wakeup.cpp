#include "db/relay_wakeup.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "core/dependency_health.hpp"
#include "db/pg_connection.hpp"

namespace os::db {
namespace {
// Read by the outbox_events trigger (migrations/0006_relay_wakeup_after_commit.sql).
constexpr const char* kWakeupSetting = "order_service.relay_wakeup";
constexpr const char* kAfterCommit = "after_commit";
}  // namespace

config::PostgresSettings waking_relays_after_commit(const config::PostgresSettings& pg) {
  return pg.with_session_setting(kWakeupSetting, kAfterCommit);
}

struct RelayWakeup::State {
  asio::any_io_executor executor;
  config::PostgresSettings pg;
  std::unique_ptr<PgConnection> connection;
  bool in_flight = false;  // a NOTIFY is being sent
  bool again = false;      // rows committed since it was sent: one more
  DependencyHealth health{"relay wake-up"};
};

awaitable<void> RelayWakeup::notify_until_caught_up(std::shared_ptr<State> s) {
  do {
    s->again = false;
    try {
      if (!s->connection || s->connection->broken()) {
        s->connection =
            co_await PgConnection::connect(s->executor, s->pg.conninfo, s->pg.connect_timeout);
      }
      co_await s->connection->query("SELECT pg_notify('outbox_events', '')", s->pg.query_timeout);
      s->health.all_up();
    } catch (...) {
      // The relays find the rows at their next poll; the next commit tries again.
      s->connection.reset();
      s->health.down(classify(std::current_exception()));
      break;
    }
  } while (s->again);
  s->in_flight = false;
}

RelayWakeup::RelayWakeup(asio::any_io_executor ex, const config::PostgresSettings& pg,
                         Doorbell& local_relay)
    : state_(std::make_shared<State>()), local_relay_(local_relay) {
  state_->executor = std::move(ex);
  // A NOTIFY carries no data: its commit need not wait for the WAL flush (which would
  // hold the notify lock that long).
  state_->pg = pg.with_session_setting("synchronous_commit", "off");
  state_->pg.conninfo += " application_name='order-service relay wake-up'";
}

void RelayWakeup::after_commit() {
  // A working relay in this process publishes the row; relays elsewhere need no wake-up
  // (one relay publishes each row) and still poll. While it is not attached (starting,
  // or its broker or database is failing), the NOTIFY wakes the relays of other processes.
  if (local_relay_.ring()) return;
  if (state_->in_flight) {
    state_->again = true;
    return;
  }
  state_->in_flight = true;
  asio::co_spawn(state_->executor, notify_until_caught_up(state_), asio::detached);
}

}  // namespace os::db
