// RabbitMQ names and their idempotent declaration (relay and consumer both declare).
#pragma once
#include <memory>
#include <string>

#include "amqp/client.hpp"
#include "config/settings.hpp"

namespace os::events {

// Relay and consumer reconnect after a round over every node failed: jittered, doubling
// from the base to the cap.
inline constexpr Millis kBrokerRetryBase{200};
inline constexpr Millis kBrokerRetryCap{2000};

struct Topology {
  std::string exchange;     // durable topic exchange for order events
  std::string routing_key;  // new orders
  std::string queue;        // new_order, dead-lettering to `dlq`
  std::string retry_queue;  // new_order.retry: per-message TTL, then back to `queue`
  std::string dlq;          // new_order.dlq
  // Quorum (replicated over the cluster's nodes; per-message TTL and at-least-once
  // dead-lettering since RabbitMQ 3.10, so retries work the same) or classic.
  config::QueueType queue_type = config::QueueType::Quorum;
};

Topology topology_for(const config::RabbitSettings& settings);
void declare_topology(amqp::AmqpConnection& broker, const Topology& topology);
// A new connection with the topology declared (relay, consumer and the dlq tool share it).
std::unique_ptr<amqp::AmqpConnection> connect_declared(const config::RabbitSettings& settings,
                                                       const Topology& topology);

}  // namespace os::events
