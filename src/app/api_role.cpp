#include "app/api_role.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <thread>

#include "app/io_threads.hpp"
#include "app/services.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "http/server.hpp"

namespace os::app {
namespace {

constexpr int kWarmConnections = 4;  // per io thread, opened at startup

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

  void stop() override {
    stop_listener_.request(threads_->context(0).get_executor());
    server_->stop();
  }

  void join() override {
    const auto deadline = Clock::now() + settings_.http.shutdown_grace;
    while (server_->active_sessions() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(Millis(20));
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
};

}  // namespace

std::unique_ptr<Role> make_api_role(const config::Settings& settings, Metrics& metrics,
                                    ProcessShared& shared) {
  return std::make_unique<ApiRole>(settings, metrics, shared);
}

}  // namespace os::app
