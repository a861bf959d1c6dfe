#include "http/server.hpp"

#include <sys/socket.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <list>

#include "core/logging.hpp"
#include "core/write_now.hpp"
#include "domain/uuid.hpp"
#include "http/response_wire.hpp"
#include "http/router.hpp"

namespace os::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Moves the body out of `in`.
Request to_request(bhttp::request<bhttp::string_body>& in, const std::string& peer) {
  Request r;
  r.method = std::string(in.method_string());
  r.target = std::string(in.target());
  const auto q = r.target.find('?');
  r.path = normalize_path(std::string_view(r.target).substr(0, q));
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  r.headers.reserve(8);
  for (const auto& field : in) r.headers.emplace_back(lower(field.name_string()), field.value());
  r.body = std::move(in.body());
  r.peer = peer;
  r.client_ip = peer;
  return r;
}

}  // namespace

struct HttpServer::Impl {
  struct IdleSession {
    beast::tcp_stream* stream;
    bool served = false;  // has answered a request (a kept-alive connection)
  };
  struct Listener {
    asio::io_context* context;
    Handler handler;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::list<IdleSession> idle;  // sessions waiting for their next request
  };
  config::HttpSettings settings;
  std::vector<Listener> listeners;
  std::shared_ptr<std::atomic<int>> active;
  std::atomic<bool> draining{false};  // responses close their connection
  std::atomic<bool> stopping{false};  // not accepting; idle connections closed

  // Over-cap connections answered and waiting for their client's close (linger_close);
  // beyond kMaxLingering they are closed at once.
  static constexpr int kMaxLingering = 256;
  std::atomic<int> lingering{0};

  awaitable<void> accept_loop(Listener& w);
  awaitable<void> linger_close(tcp::socket socket);
  void spawn_session(Listener& w, tcp::socket socket);
  void close_listener(Listener& w);
  awaitable<void> session(Listener& w, tcp::socket socket);
  awaitable<void> write_simple(beast::tcp_stream& stream, bhttp::status status,
                               std::string_view detail);
};

awaitable<void> HttpServer::Impl::write_simple(beast::tcp_stream& stream, bhttp::status status,
                                               std::string_view detail) {
  const auto res = error_response(static_cast<int>(status), detail);
  bhttp::response<bhttp::string_body> out{status, 11};
  out.set(bhttp::field::content_type, "application/json");
  out.set(bhttp::field::connection, "close");
  // Every response carries a request id, also those to requests too broken to route.
  out.set("X-Request-ID", domain::correlation_hex(16));
  out.body() = res.body;
  out.prepare_payload();
  co_await bhttp::async_write(stream, out, kUseTuple);
}

awaitable<void> HttpServer::Impl::session(Listener& w, tcp::socket socket) {
  struct Count {
    std::shared_ptr<std::atomic<int>> n;
    explicit Count(std::shared_ptr<std::atomic<int>> c) : n(std::move(c)) { ++*n; }
    ~Count() { --*n; }
  } count(active);
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const std::string peer = ec ? "" : remote.address().to_string();
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);  // for write_now; asio's own operations work either way
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // This session's node of w.idle, spliced in while waiting for a request (no allocation).
  std::list<IdleSession> own_node{IdleSession{&stream}};
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(settings.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(settings.max_header_bytes));
    stream.expires_after(settings.read_timeout);

    w.idle.splice(w.idle.begin(), own_node);
    const auto idle_it = w.idle.begin();
    auto [read_ec, n1] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
    own_node.splice(own_node.begin(), w.idle, idle_it);
    if (stopping && read_ec) break;
    if (!read_ec) {
      if (auto expect = parser.get()[bhttp::field::expect];
          beast::iequals(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        co_await bhttp::async_write(stream, cont, kUseTuple);
      }
      // A request without a body is complete with its header (beast would post that).
      if (!parser.is_done()) {
        std::tie(read_ec, n1) = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
      }
    }
    if (read_ec == bhttp::error::end_of_stream || read_ec == asio::error::eof ||
        read_ec == asio::error::connection_reset || read_ec == beast::error::timeout ||
        read_ec == asio::error::operation_aborted) {
      break;
    }
    if (read_ec == bhttp::error::body_limit) {
      co_await write_simple(stream, bhttp::status::payload_too_large, "Request body too large");
      break;
    }
    if (read_ec == bhttp::error::header_limit) {
      co_await write_simple(stream, bhttp::status::request_header_fields_too_large,
                            "Request header fields too large");
      break;
    }
    if (read_ec) {
      co_await write_simple(stream, bhttp::status::bad_request, "Malformed HTTP request");
      break;
    }

    auto& in = parser.get();
    Request request = to_request(in, peer);
    // For work that is costly to start (password hashing): is anyone still waiting?
    request.client_connected = [fd = stream.socket().native_handle()] {
      char c;
      const auto n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    };
    stream.expires_never();
    Response response = co_await w.handler(request);

    // Draining: this response is the connection's last (Connection: close), so the client
    // opens its next one elsewhere; closing it idle instead could race its next request.
    const bool keep_alive = in.keep_alive() && !draining;
    const auto wire = serialize_response(response, {.version = in.version(),
                                                    .keep_alive = keep_alive,
                                                    .head = in.method() == bhttp::verb::head});
    boost::system::error_code write_ec;
    const auto written = write_now(stream.socket(), asio::buffer(wire), write_ec);
    if (!write_ec && written < wire.size()) {  // a full send buffer: the rest, with a timeout
      stream.expires_after(settings.read_timeout);
      std::tie(write_ec, std::ignore) =
          co_await asio::async_write(stream, asio::buffer(wire) + written, kUseTuple);
    }
    if (write_ec || !keep_alive) break;
    own_node.front().served = true;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

// A socket closed with unread input is reset (RST), and a reset can destroy the 503
// before its client reads it. So the refusal is followed by a half-close and the
// client's bytes are read and dropped until it closes too, for at most a second.
awaitable<void> HttpServer::Impl::linger_close(tcp::socket socket) {
  ++lingering;
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  asio::steady_timer deadline(socket.get_executor(), std::chrono::seconds(1));
  deadline.async_wait([&socket](boost::system::error_code e) {
    if (!e) socket.cancel();
  });
  std::array<char, 4096> sink{};
  for (std::size_t total = 0; !ec && total < 64 * 1024;) {
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(sink), kUseTuple);
    ec = read_ec;
    total += n;
  }
  deadline.cancel();
  socket.close(ec);
  --lingering;
}

awaitable<void> HttpServer::Impl::accept_loop(Listener& w) {
  Millis pause{0};  // grows while accept keeps failing (EMFILE, ENFILE, ENOBUFS)
  for (;;) {
    auto [ec, socket] = co_await w.acceptor->async_accept(kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping) co_return;
      if (pause.count() == 0) log::warn("accept failed; backing off", {{"error", ec.message()}});
      pause = std::min(Millis(1000), std::max(Millis(10), pause * 2));
      asio::steady_timer timer(*w.context, pause);
      co_await timer.async_wait(kUseTuple);
      continue;
    }
    if (pause.count() != 0) log::info("accepting connections again");
    pause = Millis(0);
    if (active->load() >= settings.max_connections) {
      // Over HTTP_MAX_CONNECTIONS: answer at once and close; never queue the socket.
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Retry-After: 1\r\nConnection: close\r\nContent-Length: 46\r\n\r\n"
          "{\"detail\":\"too many connections; retry later\"}";
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      write_now(socket, asio::buffer(kBusy.data(), kBusy.size()), ignored);
      if (lingering < kMaxLingering) {
        asio::co_spawn(*w.context, linger_close(std::move(socket)), asio::detached);
      } else {
        socket.close(ignored);  // a flood of them: no descriptor kept for any
      }
      continue;
    }
    // Also once stopping: a connection accepted is answered, never dropped unanswered.
    spawn_session(w, std::move(socket));
  }
}

void HttpServer::Impl::spawn_session(Listener& w, tcp::socket socket) {
  asio::co_spawn(*w.context, session(w, std::move(socket)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("http session failed", {{"error", ex.what()}});
    }
  });
}

// On w's io thread. Closing a listening socket resets the connections still in its
// accept queue: take them first (each gets its request answered), then close. What
// arrives between the last accept and the close is migrated by the kernel to another
// SO_REUSEPORT listener of the port when net.ipv4.tcp_migrate_req=1 (deploy/ sets it).
void HttpServer::Impl::close_listener(Listener& w) {
  if (!w.acceptor || !w.acceptor->is_open()) return;
  boost::system::error_code ec;
  w.acceptor->non_blocking(true, ec);
  for (;;) {
    tcp::socket socket(*w.context);
    w.acceptor->accept(socket, ec);
    if (ec) break;  // would_block: the queue is empty
    spawn_session(w, std::move(socket));
  }
  w.acceptor->close(ec);
}

HttpServer::HttpServer(config::HttpSettings settings, std::vector<asio::io_context*> contexts,
                       std::vector<Handler> handlers)
    : impl_(std::make_unique<Impl>()), active_(std::make_shared<std::atomic<int>>(0)) {
  impl_->settings = std::move(settings);
  impl_->active = active_;
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    impl_->listeners.push_back({contexts[i], std::move(handlers[i]), nullptr, {}});
  }
}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(impl_->settings.host, ec);
  if (ec) throw std::runtime_error("API_HOST: not an IP address: " + impl_->settings.host);
  port_ = static_cast<unsigned short>(impl_->settings.port);
  for (auto& w : impl_->listeners) {
    auto acceptor = std::make_unique<tcp::acceptor>(*w.context);
    const tcp::endpoint endpoint(address, port_);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    const int one = 1;
    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor->bind(endpoint, ec);
    if (ec) {
      throw std::runtime_error("API_PORT: cannot listen on " + impl_->settings.host + ":" +
                               std::to_string(port_) + ": " + ec.message());
    }
    acceptor->listen(asio::socket_base::max_listen_connections);
    port_ = acceptor->local_endpoint().port();  // resolves port 0 for the next acceptors
    w.acceptor = std::move(acceptor);
  }
  for (auto& w : impl_->listeners) {
    asio::co_spawn(*w.context, impl_->accept_loop(w), asio::detached);
  }
}

void HttpServer::drain() {
  impl_->draining = true;
}

void HttpServer::stop() {
  impl_->draining = true;
  impl_->stopping = true;
  for (auto& w : impl_->listeners) {
    asio::post(*w.context, [impl = impl_.get(), &w] {
      impl->close_listener(w);
      boost::system::error_code ec;
      for (auto& idle : w.idle) {
        if (idle.served) idle.stream->socket().cancel(ec);
      }
    });
  }
}

void HttpServer::close_idle() {
  for (auto& w : impl_->listeners) {
    asio::post(*w.context, [&w] {
      boost::system::error_code ec;
      for (auto& idle : w.idle) idle.stream->socket().cancel(ec);
    });
  }
}

}  // namespace os::http
