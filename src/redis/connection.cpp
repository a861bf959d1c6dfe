#include "redis/connection.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <charconv>

#include "core/deadline.hpp"
#include "core/logging.hpp"
#include "core/tls.hpp"

namespace os::redis {
void encode_command(std::string& out, const Command& args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (const auto& arg : args) {
    out += '$';
    out += std::to_string(arg.size());
    out += "\r\n";
    out += arg;
    out += "\r\n";
  }
}

namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::String;
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::Status;
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::Error;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::Integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      break;
    default:
      out.type = RedisReply::Type::Nil;
      break;
  }
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
  return out;
}

}  // namespace

RedisConnection::RedisConnection(const asio::any_io_executor& ex)
    : socket_(ex), reader_(redisReaderCreate()) {}

RedisConnection::~RedisConnection() {
  tls_.reset();  // before the socket it refers to
  redisReaderFree(reader_);
}

namespace {

// A certificate that does not verify is a configuration problem, not a passing outage:
// logged as such (at most every 10 s per process: every reconnect meets it again).
void log_tls_failure(const config::HostPort& node, const std::string& reason) {
  static std::atomic<std::int64_t> last_ms{-1'000'000};
  const auto now = std::chrono::duration_cast<Millis>(Clock::now().time_since_epoch()).count();
  auto last = last_ms.load();
  if (now - last < 10'000 || !last_ms.compare_exchange_strong(last, now)) return;
  log::error("TLS handshake with redis failed",
             {{"dependency", "redis"}, {"node", node.text()}, {"error", reason}});
}

}  // namespace

awaitable<std::unique_ptr<RedisConnection>> RedisConnection::open(const asio::any_io_executor& ex,
                                                                  const config::HostPort& node,
                                                                  const config::TlsSettings& tls,
                                                                  Millis timeout) {
  std::unique_ptr<RedisConnection> conn(new RedisConnection(ex));
  Deadline deadline(ex, timeout, [c = conn.get()] { c->socket_.close(); });
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(ex);
  const auto endpoints = co_await resolver.async_resolve(
      node.host, std::to_string(node.port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw RedisUnavailable("cannot resolve Redis host " + node.host);
  co_await asio::async_connect(conn->socket_, endpoints,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    throw RedisUnavailable(deadline.expired()
                               ? "timed out connecting to Redis at " + node.text()
                               : "cannot connect to Redis at " + node.text() + ": " + ec.message());
  }
  conn->socket_.set_option(asio::ip::tcp::no_delay(true));
  conn->node_ = node;
  if (tls.enabled) {
    std::shared_ptr<asio::ssl::context> context;
    try {
      context = tls::client_context(tls);
      conn->tls_ = std::make_unique<TlsStream>(conn->socket_, *context);
      tls::expect_peer(conn->tls_->native_handle(), node.host);
    } catch (const std::runtime_error& e) {
      log_tls_failure(node, e.what());
      throw RedisUnavailable(std::string("TLS to Redis at ") + node.text() + ": " + e.what());
    }
    co_await conn->tls_->async_handshake(asio::ssl::stream_base::client,
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (deadline.expired()) {
        throw RedisUnavailable("timed out in the TLS handshake with Redis at " + node.text());
      }
      const auto reason = tls::handshake_failure(conn->tls_->native_handle(), ec);
      log_tls_failure(node, reason);
      throw RedisUnavailable("TLS handshake with Redis at " + node.text() + " failed: " + reason);
    }
  }
  co_return conn;
}

awaitable<config::HostPort> RedisConnection::ask_sentinels(const asio::any_io_executor& ex,
                                                           const config::RedisEndpoint& endpoint,
                                                           Millis timeout) {
  std::string failures;
  for (const auto& sentinel : endpoint.sentinels) {
    std::string problem;
    try {
      auto conn = co_await open(ex, sentinel, endpoint.tls, timeout);
      const auto reply = co_await conn->command(
          cmd("SENTINEL", "get-master-addr-by-name", endpoint.master_name), timeout);
      int port = 0;
      if (reply.type == RedisReply::Type::Array && reply.elements.size() == 2) {
        const auto& p = reply.elements[1].str;
        std::from_chars(p.data(), p.data() + p.size(), port);
      }
      if (port > 0) co_return config::HostPort{reply.elements[0].str, port};
      problem =
          reply.is_error() ? reply.str : "does not know master '" + endpoint.master_name + "'";
    } catch (const RedisUnavailable& e) {
      problem = e.what();
    }
    failures += (failures.empty() ? "" : "; ") + sentinel.text() + ": " + problem;
  }
  throw RedisUnavailable("no Redis Sentinel named the primary: " + failures);
}

awaitable<std::unique_ptr<RedisConnection>> RedisConnection::connect(
    const asio::any_io_executor& ex, const config::RedisEndpoint& endpoint, Millis timeout) {
  const bool sentinel = endpoint.uses_sentinel();
  config::HostPort node;
  node.host = endpoint.host;
  node.port = endpoint.port;
  if (sentinel) node = co_await ask_sentinels(ex, endpoint, timeout);
  auto conn = co_await open(ex, node, endpoint.tls, timeout);
  std::vector<Command> setup;
  if (!endpoint.user.empty()) {
    setup.push_back(cmd("AUTH", endpoint.user, endpoint.password));
  } else if (!endpoint.password.empty()) {
    setup.push_back(cmd("AUTH", endpoint.password));
  }
  if (endpoint.db != 0) setup.push_back(cmd("SELECT", std::to_string(endpoint.db)));
  // Sentinel may still name a primary that was demoted, or a replica it is promoting:
  // only a node that says it is the primary gets our writes.
  if (sentinel) setup.push_back(cmd("ROLE"));
  if (setup.empty()) co_return conn;
  const auto replies = co_await conn->pipeline(setup, timeout);
  for (const auto& reply : replies) {
    if (reply.is_error()) throw RedisUnavailable("Redis refused the connection: " + reply.str);
  }
  if (sentinel) {
    const auto& role = replies.back();
    if (role.type != RedisReply::Type::Array || role.elements.empty() ||
        role.elements[0].str != "master") {
      throw RedisUnavailable("Redis at " + node.text() + ", named primary of '" +
                             endpoint.master_name + "' by Sentinel, is not a primary (yet)");
    }
  }
  co_return conn;
}

bool is_readonly_error(const RedisReply& reply) {
  return reply.is_error_code("READONLY");
}

bool RedisConnection::usable() {
  if (broken_) return false;
  pollfd pfd{socket_.native_handle(), POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return true;
  if (!tls_) {
    broken_ = true;  // an idle connection has nothing to read: Redis closed it
    return false;
  }
  // TLS sends records of its own after the handshake (TLS 1.3 session tickets): let the
  // stream take them in without waiting. Application data or an end means broken.
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  char byte;
  const auto n = tls_->read_some(asio::buffer(&byte, 1), ec);
  broken_ = n > 0 || (ec != asio::error::would_block && ec != asio::error::try_again);
  if (!broken_) socket_.non_blocking(false, ec);
  return !broken_;
}

void RedisConnection::feed(const char* data, std::size_t size) {
  redisReaderFeed(reader_, data, size);
}

std::optional<RedisReply> RedisConnection::next_reply() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    throw RedisUnavailable("malformed reply from Redis");
  }
  if (raw == nullptr) return std::nullopt;
  auto reply = convert(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

awaitable<std::vector<RedisReply>> RedisConnection::round_trip(std::string request,
                                                               std::size_t replies) {
  if (tls_) {
    co_await asio::async_write(*tls_, asio::buffer(request), asio::use_awaitable);
  } else {
    co_await asio::async_write(socket_, asio::buffer(request), asio::use_awaitable);
  }
  std::vector<RedisReply> out;
  out.reserve(replies);
  char buffer[16384];
  while (out.size() < replies) {
    if (auto reply = next_reply()) {
      out.push_back(std::move(*reply));
      continue;
    }
    std::size_t n = 0;
    if (tls_) {
      n = co_await tls_->async_read_some(asio::buffer(buffer), asio::use_awaitable);
    } else {
      n = co_await socket_.async_read_some(asio::buffer(buffer), asio::use_awaitable);
    }
    feed(buffer, n);
  }
  co_return out;
}

awaitable<std::vector<RedisReply>> RedisConnection::pipeline(const std::vector<Command>& commands,
                                                             Millis timeout) {
  if (broken_) throw RedisUnavailable("Redis connection is broken");
  std::string request;
  for (const auto& c : commands) encode_command(request, c);
  Deadline deadline(socket_.get_executor(), timeout, [this] { socket_.close(); });
  try {
    auto replies = co_await round_trip(std::move(request), commands.size());
    for (const auto& reply : replies) {
      if (is_readonly_error(reply)) {
        // The node became a replica (failover): nothing was written; a new connection
        // finds the current primary.
        broken_ = true;
        throw RedisUnavailable("Redis at " + node_.text() + " is a read-only replica now");
      }
    }
    co_return replies;
  } catch (const boost::system::system_error& e) {
    broken_ = true;
    throw RedisUnavailable(deadline.expired()
                               ? "Redis did not answer in time"
                               : std::string("Redis connection failed: ") + e.what());
  } catch (const RedisUnavailable&) {
    broken_ = true;
    throw;
  }
}

awaitable<RedisReply> RedisConnection::command(const Command& args, Millis timeout) {
  const std::vector<Command> one(1, args);
  auto replies = co_await pipeline(one, timeout);
  co_return std::move(replies.front());
}

}  // namespace os::redis
