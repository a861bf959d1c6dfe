// A blocking RabbitMQ connection (rabbitmq-c) with one channel, publisher confirms and
// timeouts on every call. Used from dedicated relay/consumer threads, never io threads.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "core/async.hpp"

struct amqp_connection_state_t_;

namespace os::events {

// The broker is unreachable, the connection or channel closed, or a call timed out.
class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string body;
  std::string message_id;
  std::string type;
  int retry_count = 0;                        // header x-retry-count
  std::optional<std::int64_t> expiration_ms;  // per-message TTL (retry queue)
};

struct Delivery {
  std::uint64_t delivery_tag = 0;
  std::string body;
  std::string message_id;
  std::string type;
  int retry_count = 0;
  bool redelivered = false;
};

struct QueueArguments {
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
};

class AmqpConnection {
 public:
  // Connects, logs in and opens channel 1; throws AmqpError.
  explicit AmqpConnection(const config::RabbitSettings& settings);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  void declare_topic_exchange(const std::string& name);
  void declare_queue(const std::string& name, const QueueArguments& args);
  void bind_queue(const std::string& queue, const std::string& exchange, const std::string& key);

  // Publishes persistently and waits for the broker's confirms; element i tells whether
  // messages[i] was confirmed (false: nacked). Throws AmqpError on a connection problem.
  std::vector<bool> publish_confirmed(const std::vector<OutgoingMessage>& messages);

  void consume(const std::string& queue, int prefetch);
  // The next delivery, or nullopt after `timeout` without one.
  std::optional<Delivery> next_delivery(Millis timeout);
  void ack(std::uint64_t delivery_tag);
  // Without requeue: the queue's dead-letter exchange receives it.
  void reject(std::uint64_t delivery_tag);

 private:
  void check_rpc(const char* what);
  void publish(const OutgoingMessage& message);

  config::RabbitSettings settings_;
  amqp_connection_state_t_* conn_ = nullptr;
  bool confirms_ = false;
  std::uint64_t next_publish_tag_ = 1;
};

}  // namespace os::events
