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
  // Begins the drain of a graceful stop: still accepting and serving, but every response
  // from now on carries `Connection: close` and its connection is closed after it. Idle
  // keep-alive connections stay open (a request they bring is answered the same way).
  void drain();
  // Ends the drain (implies drain()): accepts what is already queued on the listening
  // sockets, closes them (with net.ipv4.tcp_migrate_req=1 the kernel hands connections
  // that arrive meanwhile to a sibling SO_REUSEPORT listener, another process's), and
  // closes the idle keep-alive connections that have served a request. Connections
  // accepted but not yet asked anything are answered once; in-flight requests finish.
  void stop();
  // Closes every idle connection, also those that have not sent their first request.
  void close_idle();
  int active_sessions() const { return active_->load(); }
  unsigned short port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<std::atomic<int>> active_;
  unsigned short port_ = 0;
};

}  // namespace os::http
