// The RabbitMQ connection a relay or a consumer works through, written once for both:
// opened on first use (to the first node of RABBITMQ_HOSTS that answers, with the topology
// declared and, for a consumer, its subscription), dropped when anything on it fails, and
// opened again by the next use. The duty's supervised loop (core/supervisor.hpp) backs off
// between failed attempts.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "amqp/client.hpp"
#include "events/topology.hpp"

namespace os::events {

class BrokerSession {
 public:
  // `on_open` runs on each new connection after the topology is declared (a consumer
  // subscribes there); `duty` names the session in logs ("relay connected to RabbitMQ").
  BrokerSession(std::string duty, const config::RabbitSettings& settings,
                std::function<void(amqp::AmqpConnection&)> on_open = {});

  // The open connection, opened now if there is none. Throws amqp::AmqpError.
  amqp::AmqpConnection& connection();
  bool is_open() const { return connection_ != nullptr; }
  // Counts the connections opened: a publish's confirm tag means something only on the
  // connection (generation) it was published on.
  std::uint64_t generation() const { return generation_; }
  // After an error: unacked deliveries go back to their queue, unconfirmed publishes
  // have an unknown outcome. The socket is closed without the close handshake (the
  // connection is suspect: the handshake could wait out the timeout once more). The
  // session's destructor (a stop) closes a healthy connection with the handshake.
  void drop() {
    if (connection_) connection_->abandon();
    connection_.reset();
  }
  // Services heartbeats on an idle open connection; drops it if it is gone. Never throws.
  void keep_alive();
  // Waits up to `timeout`, without blocking the thread, until the open connection has
  // input to read; false after the timeout or the stop. Throws amqp::AmqpError if none is open.
  awaitable<bool> wait_readable(Millis timeout);
  // Ends a wait_readable in progress at once, as if it timed out (no-op otherwise).
  // Called on the session's executor.
  void interrupt_wait();
  const Topology& topology() const { return topology_; }

 private:
  std::string duty_;
  const config::RabbitSettings& settings_;
  Topology topology_;
  std::function<void(amqp::AmqpConnection&)> on_open_;
  std::unique_ptr<amqp::AmqpConnection> connection_;
  std::uint64_t generation_ = 0;
  asio::posix::stream_descriptor* waiting_on_ = nullptr;  // during wait_readable
};

}  // namespace os::events
