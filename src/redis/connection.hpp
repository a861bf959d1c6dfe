// One Redis connection: RESP over an Asio socket, replies parsed by hiredis' reader.
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "core/async.hpp"
#include "core/failure.hpp"

struct redisReader;

namespace boost::asio::ssl {
template <typename Stream>
class stream;
}  // namespace boost::asio::ssl

namespace os::redis {

// Redis unreachable, timed out, or the connection broke.
class RedisUnavailable : public DependencyUnavailable {
 public:
  explicit RedisUnavailable(const std::string& what)
      : DependencyUnavailable(Dependency::Redis, what) {}
};

struct RedisReply {
  enum class Type { String, Status, Error, Integer, Nil, Array } type = Type::Nil;
  std::string str;
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::Nil; }
  bool is_error() const { return type == Type::Error; }
  // An error reply that starts with `code` (Redis puts the error's code first:
  // "READONLY …", "NOSCRIPT …").
  bool is_error_code(std::string_view code) const { return is_error() && str.starts_with(code); }
};

using Command = std::vector<std::string>;

// Builds a Command without a braced list (see db::params for why).
template <typename... Args>
Command cmd(Args&&... args) {
  Command c;
  c.reserve(sizeof...(Args));
  (c.emplace_back(std::forward<Args>(args)), ...);
  return c;
}

// Appends `args` to `out` in RESP (an array of bulk strings).
void encode_command(std::string& out, const Command& args);

// A -READONLY error: the node was a primary and is a replica now (after a failover).
bool is_readonly_error(const RedisReply& reply);

class RedisConnection {
 public:
  // TLS (rediss://) runs over socket(): reads and writes then go through this stream,
  // never the socket directly. Plain connections have none and pay nothing for it.
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket&>;

  // To endpoint.host:port, or, with Sentinels configured, to the primary they name (checked
  // with ROLE, so a replica is never written to). Logs in and selects the database.
  static awaitable<std::unique_ptr<RedisConnection>> connect(const asio::any_io_executor& ex,
                                                             const config::RedisEndpoint& endpoint,
                                                             Millis timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  awaitable<RedisReply> command(const Command& args, Millis timeout);
  // Sends all commands in one write and reads their replies in order.
  awaitable<std::vector<RedisReply>> pipeline(const std::vector<Command>& commands, Millis timeout);

  // For RedisMultiplexer, which drives the socket itself: parsed replies of what was fed.
  // With TLS, data goes through tls() (the socket is still what is closed and waited on).
  asio::ip::tcp::socket& socket() { return socket_; }
  TlsStream* tls() { return tls_.get(); }
  void feed(const char* data, std::size_t size);
  // The next complete reply fed so far, or nullopt; throws RedisUnavailable if malformed.
  std::optional<RedisReply> next_reply();

  bool broken() const { return broken_; }
  const config::HostPort& node() const { return node_; }
  // False when Redis closed this idle connection (an idle connection has nothing to read).
  bool usable();

 private:
  explicit RedisConnection(const asio::any_io_executor& ex);
  // A connection to `node`: bare TCP, or TLS when `tls.enabled` (handshake done, the
  // certificate verified for node.host).
  static awaitable<std::unique_ptr<RedisConnection>> open(const asio::any_io_executor& ex,
                                                          const config::HostPort& node,
                                                          const config::TlsSettings& tls,
                                                          Millis timeout);
  // The current primary's address, from the first Sentinel that knows it.
  static awaitable<config::HostPort> ask_sentinels(const asio::any_io_executor& ex,
                                                   const config::RedisEndpoint& endpoint,
                                                   Millis timeout);
  awaitable<std::vector<RedisReply>> round_trip(std::string request, std::size_t replies);

  asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_;
  redisReader* reader_;
  bool broken_ = false;
  config::HostPort node_;
};

}  // namespace os::redis
