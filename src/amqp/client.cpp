#include "amqp/client.hpp"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/time.h>

#include <boost/asio/ip/address.hpp>

#include <cstdio>
#include <deque>

namespace os::amqp {
namespace {

// AMQP negotiates heartbeats in whole seconds: a fraction is rounded up (0 stays off).
int heartbeat_seconds(Millis heartbeat) {
  return static_cast<int>(std::chrono::ceil<std::chrono::seconds>(heartbeat).count());
}

constexpr amqp_channel_t kChannel = 1;

// Why a watchdog (socket_watchdog.hpp) bounds every call into rabbitmq-c (0.11, Debian
// 12's), and not something simpler:
// - Its sockets are non-blocking: a send() that would block returns EAGAIN and the library
//   poll()s for POLLOUT with the call's deadline, so SO_SNDTIMEO never applies. That
//   deadline is infinite for amqp_basic_publish, basic.ack/reject, heartbeats and the
//   request of every RPC (amqp_set_rpc_timeout bounds only the wait for the reply, and
//   amqp_channel_close/amqp_connection_close are RPCs).
// - A send that meets the heartbeat deadline reads with no deadline at all (0.11's
//   amqp_try_recv, upstream issue #780): a frozen broker freezes the writer for good.
// - A broker that stops reading (a memory alarm blocks publishing connections; a frozen
//   node) fills the socket buffers, and the write then waits forever: the role's thread
//   with it, and SIGTERM, which that thread must answer.
// - A socket class of our own would need rabbitmq-c's private amqp_socket_class_t; a
//   signal does not help (the library restarts on EINTR); TCP_USER_TIMEOUT does not end a
//   poll() that waits for buffer space on a connection whose peer acknowledges.
// So each call is armed with a budget (the call's own wait + RABBITMQ_TIMEOUT_SECONDS);
// past it the watchdog thread shutdown()s the socket, the blocked send/poll/recv returns an
// error at once, and the call throws AmqpError naming the timeout. The connection is then
// broken and dropped by its owner (unconfirmed publishes are published again).
constexpr Millis kRpcSlack{250};  // past rabbitmq-c's own rpc timeout, which reports itself
// The close handshake is a courtesy (the broker requeues unacked deliveries anyway): a
// broker that does not answer it within this is left without it.
constexpr Millis kCloseBudget{1000};

std::string seconds_text(Millis ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

timeval to_timeval(Millis ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

amqp_bytes_t bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string to_string(amqp_bytes_t b) {
  return {static_cast<const char*>(b.bytes), b.len};
}

std::string describe(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return "connection closed by broker: " + to_string(m->reply_text);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return "channel closed by broker: " + to_string(m->reply_text);
      }
      return "broker error";
  }
  return "unknown";
}

std::optional<std::int64_t> integer_value(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<std::int64_t>(v.value.u64);
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: {
      const auto s = to_string(v.value.bytes);
      try {
        return std::stoll(s);
      } catch (...) {
        return std::nullopt;
      }
    }
    default:
      return std::nullopt;
  }
}

Delivery to_delivery(const amqp_message_t& message) {
  Delivery d;
  d.body = to_string(message.body);
  const auto& props = message.properties;
  if (props._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message_id = to_string(props.message_id);
  if (props._flags & AMQP_BASIC_TYPE_FLAG) d.type = to_string(props.type);
  if (props._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < props.headers.num_entries; ++i) {
      const auto& e = props.headers.entries[i];
      const auto key = to_string(e.key);
      if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
        d.headers[key] = to_string(e.value.value.bytes);
      } else if (const auto n = integer_value(e.value)) {
        d.headers[key] = std::to_string(*n);
      }
      if (key == "x-retry-count") {
        d.retry_count = static_cast<int>(integer_value(e.value).value_or(0));
      }
    }
  }
  return d;
}

// Why the last TLS handshake on this thread refused the broker's certificate (OpenSSL's
// verification error), for the error message; connections open on their owner's thread.
thread_local std::string t_refused_certificate;

int note_refusal(int ok, X509_STORE_CTX* store) {
  if (ok == 0 && t_refused_certificate.empty()) {
    t_refused_certificate = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  }
  return ok;
}

// RABBITMQ_TLS: a TLS socket that verifies the broker's certificate against the CA (the
// system's trust store without RABBITMQ_TLS_CA_FILE) and the node's host name or IP address
// (rabbitmq-c checks names itself, not addresses: OpenSSL checks both here, during the
// handshake, which fails on a refused certificate before anything is sent).
amqp_socket_t* tls_socket(amqp_connection_state_t conn, const config::TlsSettings& tls,
                          const std::string& host) {
  amqp_socket_t* socket = amqp_ssl_socket_new(conn);
  if (socket == nullptr) throw AmqpError("cannot create a TLS socket for RabbitMQ");
  amqp_ssl_socket_set_verify_peer(socket, 1);
  auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
  if (!tls.ca_file.empty()) {
    if (amqp_ssl_socket_set_cacert(socket, tls.ca_file.c_str()) != AMQP_STATUS_OK) {
      throw AmqpError("cannot load RABBITMQ_TLS_CA_FILE '" + tls.ca_file + "'");
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    throw AmqpError("cannot load the system's trusted CAs for RabbitMQ");
  }
  if (!tls.cert_file.empty() && amqp_ssl_socket_set_key(socket, tls.cert_file.c_str(),
                                                        tls.key_file.c_str()) != AMQP_STATUS_OK) {
    throw AmqpError("cannot load RABBITMQ_TLS_CERT_FILE '" + tls.cert_file +
                    "' / RABBITMQ_TLS_KEY_FILE '" + tls.key_file + "'");
  }
  auto* param = SSL_CTX_get0_param(ctx);
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(host, not_ip);
  if (!not_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    amqp_ssl_socket_set_verify_hostname(socket, 0);  // its check knows names only
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    amqp_ssl_socket_set_verify_hostname(socket, 1);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, note_refusal);
  return socket;
}

}  // namespace

AmqpConnection::AmqpConnection(const config::RabbitSettings& settings) : settings_(settings) {
  // The nodes in the order given: the first that takes us wins (a cluster's nodes are
  // equivalent; quorum queues are reachable from any of them).
  std::string failures;
  for (const auto& node : settings_.hosts) {
    conn_ = amqp_new_connection();
    if (conn_ == nullptr) throw AmqpError("cannot allocate an AMQP connection");
    try {
      open(node);
      node_ = node;
      return;
    } catch (const AmqpError& e) {
      // Whatever step failed, the connection and its socket are released here.
      watchdog_.forget();
      amqp_destroy_connection(conn_);
      conn_ = nullptr;
      if (settings_.hosts.size() == 1) throw;
      failures += std::string(failures.empty() ? "" : "; ") + e.what();
    }
  }
  throw AmqpError("no RabbitMQ node took the connection: " + failures);
}

void AmqpConnection::open(const config::HostPort& node) {
  amqp_socket_t* socket = settings_.tls.enabled ? tls_socket(conn_, settings_.tls, node.host)
                                                : amqp_tcp_socket_new(conn_);
  if (socket == nullptr) throw AmqpError("cannot create an AMQP socket");
  auto tv = to_timeval(settings_.timeout);
  t_refused_certificate.clear();
  if (const int rc = amqp_socket_open_noblock(socket, node.host.c_str(), node.port, &tv);
      rc != AMQP_STATUS_OK) {
    if (settings_.tls.enabled && rc != AMQP_STATUS_SOCKET_ERROR && rc != AMQP_STATUS_TIMEOUT) {
      throw AmqpError("TLS handshake with RabbitMQ at " + node.text() + " failed: " +
                      (t_refused_certificate.empty()
                           ? std::string(amqp_error_string2(rc))
                           : "certificate verify failed: " + t_refused_certificate));
    }
    throw AmqpError("cannot connect to RabbitMQ at " + node.text() + ": " + amqp_error_string2(rc));
  }
  amqp_set_handshake_timeout(conn_, &tv);
  amqp_set_rpc_timeout(conn_, &tv);
  watchdog_.watch(amqp_get_sockfd(conn_));
  // consumer_cancel_notify: the broker tells a consumer whose queue was deleted (basic.cancel)
  // instead of silently leaving it with nothing to consume. connection.blocked: the broker
  // says when a resource alarm blocks our publishes (and when it lifts); rabbitmq-c's own
  // client properties do not announce it, and without it RabbitMQ just stops reading.
  amqp_table_entry_t capability[2]{};
  capability[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capability[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability[0].value.value.boolean = 1;
  capability[1].key = amqp_cstring_bytes("connection.blocked");
  capability[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability[1].value.value.boolean = 1;
  amqp_table_entry_t capabilities{};
  capabilities.key = amqp_cstring_bytes("capabilities");
  capabilities.value.kind = AMQP_FIELD_KIND_TABLE;
  capabilities.value.value.table = amqp_table_t{2, capability};
  const amqp_table_t client_properties{1, &capabilities};
  {
    SocketWatchdog::Scope bound(watchdog_, budget(settings_.timeout));
    const auto login = amqp_login_with_properties(
        conn_, settings_.vhost.c_str(), 0, 131072, heartbeat_seconds(settings_.heartbeat),
        &client_properties, AMQP_SASL_METHOD_PLAIN, settings_.user.c_str(),
        settings_.password.c_str());
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
      throw failure("RabbitMQ login failed: " + describe(login));
    }
  }
  SocketWatchdog::Scope bound(watchdog_, budget(settings_.timeout));
  amqp_channel_open(conn_, kChannel);
  check_rpc("opening a channel");
}

Millis AmqpConnection::budget(Millis wait) const {
  return wait + settings_.timeout + kRpcSlack;
}

AmqpError AmqpConnection::failure(const std::string& what) {
  broken_ = true;
  // rabbitmq-c closed its descriptor (a timeout, a lost heartbeat): drop the watchdog's
  // duplicate too, so that the TCP connection really ends now.
  if (conn_ != nullptr && amqp_get_sockfd(conn_) < 0) watchdog_.forget();
  if (watchdog_.expired()) {
    return AmqpError("RabbitMQ did not take our data within " + seconds_text(settings_.timeout) +
                     " s (RABBITMQ_TIMEOUT_SECONDS): the connection is dropped (" + what + ")");
  }
  return AmqpError(what);
}

AmqpConnection::~AmqpConnection() {
  if (conn_ == nullptr) return;
  // Best effort and short: the broker requeues unacked deliveries anyway. Not on a broken
  // connection, nor on a blocked one (the broker reads nothing until the alarm clears):
  // closing the socket is enough there.
  if (!broken_ && !blocked_ && amqp_get_sockfd(conn_) >= 0) {
    SocketWatchdog::Scope bound(watchdog_, std::min(settings_.timeout, kCloseBudget));
    amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn_);
}

int AmqpConnection::socket() const {
  return amqp_get_sockfd(conn_);
}

bool AmqpConnection::has_buffered_input() const {
  return amqp_data_in_buffer(conn_) != 0 || amqp_frames_enqueued(conn_) != 0;
}

void AmqpConnection::keep_alive() {
  amqp_maybe_release_buffers(conn_);
  pump(Millis(0));
}

bool AmqpConnection::note_connection_state(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return false;
  switch (frame.payload.method.id) {
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* b = static_cast<amqp_connection_blocked_t*>(frame.payload.method.decoded);
      blocked_ = true;
      blocked_reason_ = to_string(b->reason);
      if (blocked_reason_.empty()) blocked_reason_ = "a resource alarm";
      return true;
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      blocked_ = false;
      blocked_reason_.clear();
      return true;
    default:
      return false;
  }
}

void AmqpConnection::settle(std::uint64_t tag, bool multiple, bool ok) {
  auto settle_one = [&](std::map<std::uint64_t, std::string>::iterator it) {
    PublishResult result;
    if (const auto r = returned_.find(it->second); ok && r != returned_.end()) {
      // A returned message is confirmed too (after its basic.return): it was not stored.
      result = {PublishResult::Status::Returned, r->second};
      returned_.erase(r);
    } else if (ok) {
      result = {PublishResult::Status::Confirmed, ""};
    } else {
      result = {PublishResult::Status::Nacked, "nacked by RabbitMQ"};
    }
    settled_.push_back({it->first, std::move(result)});
    return unsettled_.erase(it);
  };
  if (multiple) {
    for (auto it = unsettled_.begin(); it != unsettled_.end() && it->first <= tag;) {
      it = settle_one(it);
    }
  } else if (auto it = unsettled_.find(tag); it != unsettled_.end()) {
    settle_one(it);
  }
}

bool AmqpConnection::pump(Millis timeout) {
  // Reads are bounded by `timeout`; a heartbeat rabbitmq-c sends meanwhile, and the content
  // of a basic.return (read with no deadline), by the watchdog.
  SocketWatchdog::Scope bound(watchdog_, budget(timeout));
  const auto deadline = Clock::now() + timeout;
  const auto settled_before = settled_.size();
  for (;;) {
    // Once something is settled, only take in what is already there.
    const auto left =
        settled_.size() > settled_before
            ? Millis(0)
            : std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
    auto tv = to_timeval(left);
    amqp_frame_t frame;
    // Also sends our heartbeat when due and takes in the broker's (inside rabbitmq-c).
    const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return settled_.size() > settled_before;
    if (rc != AMQP_STATUS_OK) {
      throw failure(std::string("RabbitMQ connection lost: ") + amqp_error_string2(rc));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD || note_connection_state(frame)) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        settle(ack->delivery_tag, ack->multiple != 0, true);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        settle(nack->delivery_tag, nack->multiple != 0, false);
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        std::string reason;
        auto id = read_returned(frame, &reason);
        returned_[std::move(id)] = std::move(reason);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        throw failure("RabbitMQ closed the connection");
      default:
        break;
    }
  }
}

std::string AmqpConnection::read_returned(const amqp_frame_t& frame, std::string* reason) {
  auto* ret = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
  if (reason != nullptr) {
    *reason = "returned by RabbitMQ: " + std::to_string(ret->reply_code) + " " +
              to_string(ret->reply_text) + " (exchange '" + to_string(ret->exchange) +
              "', routing key '" + to_string(ret->routing_key) + "')";
  }
  amqp_message_t message;
  const auto reply = amqp_read_message(conn_, frame.channel, &message, 0);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    throw failure("reading a returned message failed: " + describe(reply));
  }
  std::string id;
  if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
    id = to_string(message.properties.message_id);
  }
  amqp_destroy_message(&message);
  return id;
}

void AmqpConnection::check_rpc(const char* what) {
  const auto reply = amqp_get_rpc_reply(conn_);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    throw failure(std::string("RabbitMQ failed ") + what + ": " + describe(reply));
  }
}

void AmqpConnection::declare_topic_exchange(const std::string& name) {
  SocketWatchdog::Scope bound(watchdog_, budget());
  amqp_exchange_declare(conn_, kChannel, bytes(name), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                        amqp_empty_table);
  check_rpc("declaring the exchange");
}

void AmqpConnection::declare_queue(const std::string& name, const QueueArguments& args) {
  std::vector<amqp_table_entry_t> entries;
  std::deque<std::string> values;  // the table points into these until the call returns
  auto add = [&](const char* key, std::string value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = bytes(values.emplace_back(std::move(value)));
    entries.push_back(e);
  };
  if (args.dead_letter_exchange) add("x-dead-letter-exchange", *args.dead_letter_exchange);
  if (args.dead_letter_routing_key) add("x-dead-letter-routing-key", *args.dead_letter_routing_key);
  if (args.type == config::QueueType::Quorum) {
    add("x-queue-type", "quorum");
    // A quorum queue keeps a dead-lettered message until the target queue has confirmed
    // it (the default, at-most-once, could lose it in a node failure); that strategy
    // needs reject-publish overflow.
    if (args.dead_letter_exchange) {
      add("x-dead-letter-strategy", "at-least-once");
      add("x-overflow", "reject-publish");
    }
  }
  amqp_table_t table{static_cast<int>(entries.size()), entries.data()};
  SocketWatchdog::Scope bound(watchdog_, budget());
  amqp_queue_declare(conn_, kChannel, bytes(name), 0, 1, 0, 0, table);
  try {
    check_rpc(("declaring queue " + name).c_str());
  } catch (const AmqpError& e) {
    const std::string what = e.what();
    if (what.find("x-queue-type") == std::string::npos) throw;
    throw AmqpError(what +
                    " (the queue exists with another type: set RABBITMQ_QUEUE_TYPE to "
                    "it, or drain and delete the queue so that it is declared anew)");
  }
}

std::uint32_t AmqpConnection::message_count(const std::string& queue) {
  SocketWatchdog::Scope bound(watchdog_, budget());
  const auto* ok = amqp_queue_declare(conn_, kChannel, bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  check_rpc(("inspecting queue " + queue).c_str());
  return ok ? ok->message_count : 0;
}

void AmqpConnection::bind_queue(const std::string& queue, const std::string& exchange,
                                const std::string& key) {
  SocketWatchdog::Scope bound(watchdog_, budget());
  amqp_queue_bind(conn_, kChannel, bytes(queue), bytes(exchange), bytes(key), amqp_empty_table);
  check_rpc("binding the queue");
}

void AmqpConnection::publish(const OutgoingMessage& m) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 2;  // persistent
  props.message_id = bytes(m.message_id);
  props.type = bytes(m.type);
  std::vector<amqp_table_entry_t> headers(1 + m.headers.size());
  headers[0].key = amqp_cstring_bytes("x-retry-count");
  headers[0].value.kind = AMQP_FIELD_KIND_I32;
  headers[0].value.value.i32 = m.retry_count;
  std::size_t i = 1;
  for (const auto& [key, value] : m.headers) {
    headers[i].key = bytes(key);
    headers[i].value.kind = AMQP_FIELD_KIND_UTF8;
    headers[i].value.value.bytes = bytes(value);
    ++i;
  }
  props.headers = amqp_table_t{static_cast<int>(headers.size()), headers.data()};
  std::string expiration;
  if (m.expiration_ms) {
    expiration = std::to_string(*m.expiration_ms);
    props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    props.expiration = bytes(expiration);
  }
  // mandatory: a message no queue takes comes back (basic.return) instead of vanishing.
  SocketWatchdog::Scope bound(watchdog_, budget());
  const int rc = amqp_basic_publish(conn_, kChannel, bytes(m.exchange), bytes(m.routing_key),
                                    /*mandatory=*/1, /*immediate=*/0, &props, bytes(m.body));
  if (rc != AMQP_STATUS_OK) {
    throw failure(std::string("publishing to RabbitMQ failed: ") + amqp_error_string2(rc));
  }
}

std::uint64_t AmqpConnection::publish_unconfirmed(const OutgoingMessage& message) {
  if (!confirms_) {
    SocketWatchdog::Scope bound(watchdog_, budget());
    amqp_confirm_select(conn_, kChannel);
    check_rpc("enabling publisher confirms");
    confirms_ = true;
  }
  publish(message);
  const auto tag = next_publish_tag_++;
  unsettled_.emplace(tag, message.message_id);
  return tag;
}

std::vector<AmqpConnection::Settled> AmqpConnection::take_settled(Millis timeout) {
  pump(timeout);
  std::vector<Settled> out;
  out.swap(settled_);
  return out;
}

std::vector<PublishResult> AmqpConnection::publish_confirmed(
    const std::vector<OutgoingMessage>& messages) {
  keep_alive();  // take in anything that arrived while idle before judging this batch
  if (blocked_) {
    // Not written into a connection the broker does not read (the caller backs off).
    throw AmqpError("RabbitMQ blocks publishing (" + blocked_reason_ + "): not published");
  }
  std::map<std::uint64_t, std::size_t> index;  // tag -> position in messages
  for (std::size_t i = 0; i < messages.size(); ++i) index[publish_unconfirmed(messages[i])] = i;
  std::vector<PublishResult> results(messages.size());
  std::size_t settled = 0;
  const auto deadline = Clock::now() + settings_.timeout;
  while (settled < messages.size()) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) {
      throw AmqpError(blocked_ ? "RabbitMQ did not confirm in time (it blocks publishing: " +
                                     blocked_reason_ + ")"
                               : std::string("RabbitMQ did not confirm in time"));
    }
    for (auto& s : take_settled(left)) {
      if (const auto it = index.find(s.tag); it != index.end()) {
        results[it->second] = std::move(s.result);
        ++settled;
      }
    }
  }
  return results;
}

void AmqpConnection::consume(const std::string& queue, int prefetch) {
  SocketWatchdog::Scope bound(watchdog_, budget());
  amqp_basic_qos(conn_, kChannel, 0, static_cast<std::uint16_t>(prefetch), 0);
  check_rpc("setting the prefetch");
  watchdog_.arm(budget());  // a second rpc: a budget of its own
  amqp_basic_consume(conn_, kChannel, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check_rpc(("consuming from " + queue).c_str());
}

std::optional<Delivery> AmqpConnection::next_delivery(Millis timeout) {
  amqp_maybe_release_buffers(conn_);
  SocketWatchdog::Scope bound(watchdog_, budget(timeout));
  amqp_envelope_t envelope;
  auto tv = to_timeval(timeout);
  const auto reply = amqp_consume_message(conn_, &envelope, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_TIMEOUT) {
    return std::nullopt;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    // A frame other than a delivery (e.g. channel.close) arrived: read and judge it.
    amqp_frame_t frame;
    auto zero = to_timeval(Millis(0));
    const int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) return std::nullopt;
    if (rc != AMQP_STATUS_OK) {
      throw failure(std::string("RabbitMQ connection lost: ") + amqp_error_string2(rc));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD || note_connection_state(frame)) {
      return std::nullopt;
    }
    if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
        frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      throw failure("RabbitMQ closed the consumer channel");
    }
    if (frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
      throw failure("RabbitMQ cancelled the consumer (its queue was deleted?)");
    }
    return std::nullopt;
  }
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    throw failure("consuming from RabbitMQ failed: " + describe(reply));
  }
  auto d = to_delivery(envelope.message);
  d.delivery_tag = envelope.delivery_tag;
  d.redelivered = envelope.redelivered != 0;
  amqp_destroy_envelope(&envelope);
  return d;
}

std::optional<Delivery> AmqpConnection::get(const std::string& queue) {
  amqp_maybe_release_buffers(conn_);
  // The rpc, then the message's content (read with no deadline by rabbitmq-c).
  SocketWatchdog::Scope bound(watchdog_, budget(settings_.timeout));
  const auto reply = amqp_basic_get(conn_, kChannel, bytes(queue), /*no_ack=*/0);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    throw failure("reading " + queue + " failed: " + describe(reply));
  }
  if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
  auto* ok = static_cast<amqp_basic_get_ok_t*>(reply.reply.decoded);
  const auto tag = ok->delivery_tag;
  const bool redelivered = ok->redelivered != 0;
  const std::uint32_t remaining = ok->message_count;
  amqp_message_t message;
  const auto read = amqp_read_message(conn_, kChannel, &message, 0);
  if (read.reply_type != AMQP_RESPONSE_NORMAL) {
    throw failure("reading a message of " + queue + " failed: " + describe(read));
  }
  auto d = to_delivery(message);
  d.delivery_tag = tag;
  d.redelivered = redelivered;
  d.remaining = remaining;
  amqp_destroy_message(&message);
  return d;
}

void AmqpConnection::ack(std::uint64_t delivery_tag) {
  SocketWatchdog::Scope bound(watchdog_, budget());
  if (const int rc = amqp_basic_ack(conn_, kChannel, delivery_tag, 0); rc != AMQP_STATUS_OK) {
    throw failure(std::string("acknowledging to RabbitMQ failed: ") + amqp_error_string2(rc));
  }
}

void AmqpConnection::reject(std::uint64_t delivery_tag) {
  SocketWatchdog::Scope bound(watchdog_, budget());
  if (const int rc = amqp_basic_reject(conn_, kChannel, delivery_tag, 0); rc != AMQP_STATUS_OK) {
    throw failure(std::string("rejecting to RabbitMQ failed: ") + amqp_error_string2(rc));
  }
}

}  // namespace os::amqp
