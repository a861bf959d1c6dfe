// HTTP/1.1 server: one SO_REUSEPORT acceptor per io_context, keep-alive sessions as
// coroutines, request limits, graceful shutdown.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "config/settings.hpp"
#include "core/async.hpp"
#include "http/router.hpp"

namespace os::http {

class HttpServer {
 public:
  // handlers[i] serves the connections accepted on contexts[i].
  HttpServer(config::HttpSettings settings, std::vector<asio::io_context*> contexts,
             std::vector<Handler> handlers);
  ~HttpServer();

  // Binds every acceptor (throws std::system_error naming the address on failure).
  void start();
  // Stops accepting and closes idle keep-alive connections; in-flight requests finish.
  void stop();
  int active_sessions() const { return active_->load(); }
  unsigned short port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<std::atomic<int>> active_;
  unsigned short port_ = 0;
};

}  // namespace os::http
