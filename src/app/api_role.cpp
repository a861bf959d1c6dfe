#include "app/api_role.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <csignal>
#include <ctime>
#include <thread>

#include "app/io_threads.hpp"
#include "app/services.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "http/probes.hpp"
#include "http/server.hpp"

namespace os::app {
namespace {

constexpr int kWarmConnections = 4;  // per io thread, opened at startup
// At the end of the drain, how long a connection accepted but not yet asked anything may
// take to send its request (a client sends it right after connecting).
constexpr Millis kFirstRequestWait{1000};

// Sleeps until `until`; a SIGINT/SIGTERM (blocked in every thread, see role.hpp) cuts the
// sleep short. Returns false when a signal did.
bool sleep_unless_signalled(Clock::time_point until) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  for (;;) {
    const auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) return true;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                     static_cast<long>(ns % 1'000'000'000)};
    if (sigtimedwait(&set, nullptr, &timeout) > 0) return false;
    // EAGAIN (timed out) or EINTR: check the time again
  }
}

class ApiRole : public Role {
 public:
  ApiRole(const config::Settings& settings, Metrics& metrics, ProcessShared& shared)
      : settings_(settings), process_(settings, metrics, shared) {
    const int n = settings.http.threads > 0
                      ? settings.http.threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads_ = std::make_unique<IoThreads>(n);
    std::vector<http::Handler> handlers;
    for (std::size_t i = 0; i < threads_->size(); ++i) {
      per_thread_.push_back(std::make_unique<ApiThreadServices>(process_, threads_->context(i)));
      auto* middleware = &per_thread_.back()->middleware;
      handlers.emplace_back([middleware](http::Request& r) { return middleware->handle(r); });
    }
    server_ = std::make_unique<http::HttpServer>(settings.http, threads_->contexts(),
                                                 std::move(handlers));
  }

  ~ApiRole() override {
    threads_->stop();
    // Sockets must go before the io_contexts that own their services; sessions have
    // drained in join(), so no coroutine still holds a pooled connection.
    per_thread_.clear();
    server_.reset();
    threads_.reset();
  }

  void start() override {
    server_->start();
    if (settings_.auth_user_cache.count() > 0) {
      asio::co_spawn(
          threads_->context(0),
          api::follow_user_deletions(settings_.postgres.conninfo,
                                     settings_.postgres.connect_timeout, process_.known_users),
          stop_listener_.bind(asio::detached));
    }
    for (std::size_t i = 0; i < threads_->size(); ++i) {
      asio::co_spawn(threads_->context(i), per_thread_[i]->pg.warm_up(kWarmConnections),
                     asio::detached);
    }
    threads_->run();
    const std::string base =
        "http://" + settings_.http.host + ":" + std::to_string(server_->port());
    log::info(
        "api listening",
        {{"url", base}, {"docs", base + "/docs"}, {"threads", static_cast<int>(threads_->size())}});
  }

  // A graceful stop is a drain, then a grace (docs/architecture.md, "Graceful stop"):
  //  1. at once: /ready answers 503, so load balancers take this process out of rotation,
  //     while it keeps accepting and serving; every response closes its connection;
  //  2. after SHUTDOWN_DRAIN_SECONDS (or a second SIGTERM/SIGINT): the listening sockets
  //     close (their queued connections are served first), then idle connections;
  //  3. in-flight requests get SHUTDOWN_GRACE_SECONDS more, then the io threads stop.
  void stop() override {
    http::begin_drain();
    server_->drain();
    drain_end_ = Clock::now() + settings_.http.shutdown_drain;
    log::info(
        "draining: /ready answers 503, connections close after their next response",
        {{"drain_seconds", std::chrono::duration<double>(settings_.http.shutdown_drain).count()},
         {"grace_seconds", std::chrono::duration<double>(settings_.http.shutdown_grace).count()},
         {"connections", server_->active_sessions()}});
  }

  void join() override {
    if (!sleep_unless_signalled(drain_end_)) log::info("second signal: drain cut short");
    const int left = server_->active_sessions();
    stop_listener_.request(threads_->context(0).get_executor());
    server_->stop();
    log::info("drained: not accepting any more", {{"connections", left}});
    const auto deadline = Clock::now() + settings_.http.shutdown_grace;
    const auto wait_sessions = [this](Clock::time_point until) {
      while (server_->active_sessions() > 0 && Clock::now() < until) {
        std::this_thread::sleep_for(Millis(10));
      }
    };
    wait_sessions(std::min(deadline, Clock::now() + kFirstRequestWait));
    server_->close_idle();
    wait_sessions(deadline);
    if (server_->active_sessions() > 0) {
      log::warn("grace over: closing connections still busy",
                {{"connections", server_->active_sessions()}});
    }
    threads_->stop();
  }

 private:
  const config::Settings& settings_;
  ProcessServices process_;
  std::unique_ptr<IoThreads> threads_;
  std::vector<std::unique_ptr<ApiThreadServices>> per_thread_;
  std::unique_ptr<http::HttpServer> server_;
  StopSignal stop_listener_;  // the user-deletion listener's
  Clock::time_point drain_end_{};
};

}  // namespace

std::unique_ptr<Role> make_api_role(const config::Settings& settings, Metrics& metrics,
                                    ProcessShared& shared) {
  return std::make_unique<ApiRole>(settings, metrics, shared);
}

}  // namespace os::app
