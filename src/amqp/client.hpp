// A blocking RabbitMQ connection (rabbitmq-c) with one channel, publisher confirms and
// timeouts on every call, its socket writes included (a write watchdog: see client.cpp).
// Used on the relay's and the consumer's own threads (and by the dlq command), never on
// the api's io threads.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "amqp/socket_watchdog.hpp"
#include "config/settings.hpp"
#include "core/async.hpp"
#include "core/failure.hpp"

struct amqp_connection_state_t_;
struct amqp_frame_t_;

namespace os::amqp {

// The broker is unreachable, the connection or channel closed, or a call timed out.
class AmqpError : public DependencyUnavailable {
 public:
  explicit AmqpError(const std::string& what) : DependencyUnavailable(Dependency::RabbitMQ, what) {}
};

using Headers = std::map<std::string, std::string>;

struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string body;
  std::string message_id;
  std::string type;
  int retry_count = 0;                        // header x-retry-count
  std::optional<std::int64_t> expiration_ms;  // per-message TTL (retry queue)
  Headers headers = {};                       // more string headers
};

struct Delivery {
  std::uint64_t delivery_tag = 0;
  std::string body;
  std::string message_id;
  std::string type;
  int retry_count = 0;
  bool redelivered = false;
  Headers headers;              // string and integer headers, as text
  std::uint32_t remaining = 0;  // basic.get only: messages left in the queue after this one
};

// What the broker did with one published message.
struct PublishResult {
  enum class Status { Confirmed, Nacked, Returned } status = Status::Nacked;
  std::string reason;  // for Nacked and Returned
  bool confirmed() const { return status == Status::Confirmed; }
};

struct QueueArguments {
  config::QueueType type = config::QueueType::Classic;
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
};

class AmqpConnection {
 public:
  // Connects to the first of settings.hosts that answers, logs in and opens channel 1;
  // throws AmqpError.
  explicit AmqpConnection(const config::RabbitSettings& settings);
  // The node this connection is open to.
  const config::HostPort& node() const { return node_; }
  // For an asynchronous readiness wait (BrokerSession::wait_readable); owned by rabbitmq-c.
  int socket() const;
  // Input already read from the socket but not taken yet: no need to wait for more.
  bool has_buffered_input() const;
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  void declare_topic_exchange(const std::string& name);
  void declare_queue(const std::string& name, const QueueArguments& args);
  void bind_queue(const std::string& queue, const std::string& exchange, const std::string& key);
  // Messages ready in `queue` (a passive declare: the queue must exist).
  std::uint32_t message_count(const std::string& queue);

  // Publishes persistently and `mandatory`, and waits for the broker's confirms; element
  // i tells what became of messages[i]: confirmed, nacked, or returned unroutable (no
  // queue bound: it was not stored anywhere). Throws AmqpError on a connection problem.
  std::vector<PublishResult> publish_confirmed(const std::vector<OutgoingMessage>& messages);

  // The same without waiting: returns the message's confirm tag (consecutive per
  // connection); take_settled() later tells what became of it.
  std::uint64_t publish_unconfirmed(const OutgoingMessage& message);
  struct Settled {
    std::uint64_t tag;
    PublishResult result;
  };
  // Confirms (and returns) of unconfirmed publishes that arrived: waits up to `timeout`
  // for the first, then takes only what is already there. Throws AmqpError.
  std::vector<Settled> take_settled(Millis timeout);
  std::size_t unsettled() const { return unsettled_.size(); }

  void consume(const std::string& queue, int prefetch);
  // The next delivery, or nullopt after `timeout` without one.
  std::optional<Delivery> next_delivery(Millis timeout);
  // basic.get: one message of `queue` (unacked until ack; requeued if the connection
  // closes first), or nullopt when the queue is empty.
  std::optional<Delivery> get(const std::string& queue);
  void ack(std::uint64_t delivery_tag);
  // Without requeue: the queue's dead-letter exchange receives it.
  void reject(std::uint64_t delivery_tag);
  // Reads and answers what the broker sent to an idle connection (heartbeats; sends ours
  // when due). Call it at least every heartbeat/2 on a connection that has nothing else
  // to do. Throws AmqpError when the connection is gone.
  void keep_alive();

  // RabbitMQ blocks this connection's publishes (connection.blocked: a memory or disk
  // alarm); it stops reading from the socket until connection.unblocked. Updated whenever
  // frames are read (keep_alive, take_settled, next_delivery, publish_confirmed, ...).
  bool blocked() const { return blocked_; }
  const std::string& blocked_reason() const { return blocked_reason_; }
  // The caller gives the connection up after an error: the destructor then closes the
  // socket without the close handshake (which could wait out the timeout again).
  void abandon() { broken_ = true; }

 private:
  void open(const config::HostPort& node);
  void check_rpc(const char* what);
  void publish(const OutgoingMessage& message);
  // Reads the content of a basic.return that just arrived; returns its message id.
  std::string read_returned(const amqp_frame_t_& frame, std::string* reason);
  // Reads frames for up to `timeout`, recording confirms and returns; true if something
  // was settled. Throws AmqpError when the connection is gone.
  bool pump(Millis timeout);
  void settle(std::uint64_t tag, bool multiple, bool ok);
  // connection.blocked / connection.unblocked: records it; false for any other frame.
  bool note_connection_state(const amqp_frame_t_& frame);
  // The error to throw for a failed call (`what`: the failure as rabbitmq-c reported it);
  // marks the connection broken. Names the timeout when the write watchdog cut the call.
  AmqpError failure(const std::string& what);
  // The watchdog's budget for a call that itself waits up to `wait` for the broker.
  Millis budget(Millis wait = Millis(0)) const;

  config::RabbitSettings settings_;
  config::HostPort node_;
  amqp_connection_state_t_* conn_ = nullptr;
  bool confirms_ = false;
  std::uint64_t next_publish_tag_ = 1;
  std::map<std::uint64_t, std::string> unsettled_;  // tag -> message id
  std::map<std::string, std::string> returned_;     // message id -> reason (basic.return)
  std::vector<Settled> settled_;                    // not taken yet
  bool blocked_ = false;
  std::string blocked_reason_;
  bool broken_ = false;      // a call failed: no close handshake
  SocketWatchdog watchdog_;  // bounds every call into rabbitmq-c (its writes never time out)
};

}  // namespace os::amqp
