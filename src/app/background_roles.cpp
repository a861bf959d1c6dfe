#include "app/background_roles.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "app/io_threads.hpp"
#include "cache/order_cache.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "core/task_group.hpp"
#include "db/inbox_repository.hpp"
#include "db/order_repository.hpp"
#include "db/reconcile_repository.hpp"
#include "db/retention_repository.hpp"
#include "domain/uuid.hpp"
#include "events/consumer.hpp"
#include "events/relay.hpp"
#include "http/probes.hpp"
#include "http/server.hpp"
#include "tasks/housekeeping.hpp"
#include "tasks/reconciler.hpp"
#include "tasks/worker.hpp"

namespace os::app {
namespace {

constexpr int kPoolSize = 4;

// A role whose work is one coroutine on its own thread and io_context. stop() cancels
// the coroutine through Asio (core/supervisor.hpp's StopSignal); its supervised loop
// winds down and returns.
class ThreadRole : public Role {
 public:
  ThreadRole(std::string name, const config::Settings& settings, Metrics& metrics)
      : name_(std::move(name)), settings_(settings), metrics_(metrics) {}

  void start() override {
    asio::co_spawn(io_, wound_down_by_stop(), stop_.bind([this](std::exception_ptr e) {
      if (!e) return;
      log::error("role stopped by an error; shutting down",
                 {{"role", name_}, {"error", classify(e).reason}});
      request_shutdown(1);
    }));
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() override { stop_.request(io_.get_executor()); }
  void join() override {
    if (thread_.joinable()) thread_.join();
  }
  ~ThreadRole() override {
    stop();
    join();
  }

 protected:
  virtual awaitable<void> body(asio::io_context& io) = 0;

  // The stop cancels what the body awaits (the duty's loop then ends); it never makes a
  // later co_await throw, so the body still finishes its clean-up.
  awaitable<void> wound_down_by_stop() {
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await body(io_);
  }

  std::string name_;
  const config::Settings& settings_;
  Metrics& metrics_;

 private:
  asio::io_context io_{1};
  StopSignal stop_;
  std::thread thread_;
};

config::PostgresSettings small_pool(config::PostgresSettings pg) {
  pg.pool_size = kPoolSize;
  return pg;
}

// For the relay and the consumer, whose commits need not wait for the WAL flush: a write
// lost in a database crash only makes the pipeline do again what it already did, which
// it deduplicates (see the two roles).
config::PostgresSettings unflushed_small_pool(const config::PostgresSettings& pg) {
  return small_pool(pg).with_session_setting("synchronous_commit", "off");
}

// The task-queue Redis is on the pipeline's path only, never a request's: it may take
// longer than REDIS_TIMEOUT_MS (the cache's budget) before it counts as down.
constexpr Millis kTaskRedisTimeout{2000};

class RelayRole : public ThreadRole {
 public:
  RelayRole(const config::Settings& settings, Metrics& metrics, ProcessShared& shared)
      : ThreadRole("relay", settings, metrics), shared_(shared) {}

 protected:
  awaitable<void> body(asio::io_context& io) override {
    // The relay's writes (claims, published marks) may be lost in a database crash without
    // harm: the row is published again and the consumer deduplicates.
    db::PgPool pool(io.get_executor(), unflushed_small_pool(settings_.postgres));
    events::Relay relay(settings_.outbox, settings_.rabbit, settings_.postgres, pool, metrics_,
                        &shared_.relay_doorbell);
    co_await relay.run();
  }

 private:
  ProcessShared& shared_;
};

class ConsumerRole : public ThreadRole {
 public:
  using ThreadRole::ThreadRole;

 protected:
  awaitable<void> body(asio::io_context& io) override {
    // The inbox row is acked only after the task is on the (fsynced) task queue, so losing
    // it in a database crash at worst lets a republished event enqueue a second task,
    // which process_order turns into a no-op (processed_at is set once; task_runs counts
    // one effective run).
    db::PgPool pool(io.get_executor(), unflushed_small_pool(settings_.postgres));
    db::InboxRepository inbox(pool);
    redis::RedisClient redis(io.get_executor(), settings_.redis.tasks, kPoolSize, kTaskRedisTimeout,
                             nullptr);
    tasks::TaskQueue queue(redis, settings_.tasks);
    events::NewOrderConsumer consumer(settings_.rabbit, inbox, queue, metrics_);
    co_await consumer.run();
  }
};

std::string worker_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + domain::random_hex(3);
}

class WorkerRole : public ThreadRole {
 public:
  WorkerRole(const config::Settings& settings, Metrics& metrics, ProcessShared& shared)
      : ThreadRole("worker", settings, metrics), shared_(shared) {}

 protected:
  awaitable<void> body(asio::io_context& io) override {
    auto pg = settings_.postgres;
    pg.pool_size = std::max(kPoolSize, std::min(settings_.tasks.concurrency, 32));
    db::PgPool pool(io.get_executor(), pg);
    co_await pool.warm_up(pg.pool_size / 2);
    db::OrderRepository orders(pool);
    // The worker's tasks share one connection per Redis (commands of one loop turn leave in
    // one write: a pool would make up to WORKER_CONCURRENCY tasks queue for a few
    // connections, and each write pay its own fsync); only the blocking read has its own.
    redis::RedisClient cache_redis(io.get_executor(), settings_.redis.cache,
                                   settings_.redis.timeout, &shared_.breaker);
    cache::OrderCache cache(cache_redis,
                            std::chrono::ceil<std::chrono::seconds>(settings_.redis.orders_ttl),
                            metrics_, shared_.cache_generation);
    redis::RedisClient task_redis(io.get_executor(), settings_.redis.tasks, kTaskRedisTimeout,
                                  nullptr);
    redis::RedisClient task_reads(io.get_executor(), settings_.redis.tasks, 1, kTaskRedisTimeout,
                                  nullptr);
    tasks::TaskQueue queue(task_redis, task_reads, settings_.tasks);
    const auto name = worker_name();
    tasks::OrderProcessor processor(orders, cache, settings_.tasks.process_order_delay, name);
    tasks::Worker worker(queue, processor, settings_.tasks, metrics_, name);
    log::info("worker started", {{"worker", name}, {"concurrency", settings_.tasks.concurrency}});
    co_await worker.run(std::chrono::duration_cast<Millis>(settings_.http.shutdown_grace));
  }

 private:
  ProcessShared& shared_;
};

class ReconcileRole : public ThreadRole {
 public:
  using ThreadRole::ThreadRole;

 protected:
  awaitable<void> body(asio::io_context& io) override {
    db::PgPool pool(io.get_executor(), small_pool(settings_.postgres));
    db::ReconcileRepository repository(pool);
    db::OutboxRepository outbox(pool);
    db::RetentionRepository retention(pool);
    redis::RedisClient redis(io.get_executor(), settings_.redis.tasks, 1, kTaskRedisTimeout,
                             nullptr);
    tasks::TaskQueue queue(redis, settings_.tasks);
    tasks::Reconciler reconciler(settings_.reconcile, settings_.tasks.visibility_timeout,
                                 repository, queue, metrics_);
    tasks::Housekeeper housekeeper(settings_.retention, retention, outbox, metrics_);
    // Two duties side by side on this thread; the role's stop reaches both.
    TaskGroup duties(io.get_executor());
    duties.spawn(reconciler.run());
    duties.spawn(housekeeper.run());
    co_await duties.join();
  }
};

class MetricsRole : public Role {
 public:
  MetricsRole(const config::Settings& settings, Metrics& metrics, int port) : threads_(1) {
    auto http = settings.http;
    http.port = port;
    std::vector<http::Handler> handlers;
    handlers.emplace_back([&metrics](http::Request& r) -> awaitable<http::Response> {
      if (r.path == "/health") co_return http::liveness_response();
      if (r.path == "/metrics") co_return http::metrics_response(metrics);
      co_return http::error_response(404, "Not Found");
    });
    server_ = std::make_unique<http::HttpServer>(http, threads_.contexts(), std::move(handlers));
  }
  ~MetricsRole() override {
    threads_.stop();
    server_.reset();
  }
  void start() override {
    server_->start();
    threads_.run();
    log::info("metrics endpoint listening", {{"port", static_cast<int>(server_->port())}});
  }
  void stop() override { server_->stop(); }
  void join() override { threads_.stop(); }

 private:
  IoThreads threads_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace

std::unique_ptr<Role> make_relay_role(const config::Settings& s, Metrics& m,
                                      ProcessShared& shared) {
  return std::make_unique<RelayRole>(s, m, shared);
}
std::unique_ptr<Role> make_consumer_role(const config::Settings& s, Metrics& m) {
  return std::make_unique<ConsumerRole>("consumer", s, m);
}
std::unique_ptr<Role> make_worker_role(const config::Settings& s, Metrics& m,
                                       ProcessShared& shared) {
  return std::make_unique<WorkerRole>(s, m, shared);
}
std::unique_ptr<Role> make_reconcile_role(const config::Settings& s, Metrics& m) {
  return std::make_unique<ReconcileRole>("reconcile", s, m);
}
std::unique_ptr<Role> make_metrics_role(const config::Settings& s, Metrics& m, int port) {
  return std::make_unique<MetricsRole>(s, m, port);
}

void describe_background_metrics(Metrics& m) {
  events::describe_relay_metrics(m);
  events::describe_consumer_metrics(m);
  tasks::describe_reconciler_metrics(m);
  tasks::describe_housekeeping_metrics(m);
  m.describe("tasks_total", Metrics::Type::Counter, "Finished task runs by result.");
  m.describe("tasks_reclaimed_total", Metrics::Type::Counter,
             "Tasks taken over from workers that stopped without acking.");
  m.describe("task_queue_depth", Metrics::Type::Gauge, "Tasks in the stream (pending or new).");
  m.describe("task_queue_dead_letters", Metrics::Type::Gauge, "Tasks in the dead-letter stream.");
  m.describe("task_queue_delayed", Metrics::Type::Gauge,
             "Tasks waiting out a retry backoff (not in the stream until due).");
}

}  // namespace os::app
