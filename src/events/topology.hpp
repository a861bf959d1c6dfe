// RabbitMQ names and their idempotent declaration (relay and consumer both declare).
#pragma once
#include <memory>
#include <string>

#include "config/settings.hpp"
#include "events/amqp_client.hpp"

namespace os::events {

struct Topology {
  std::string exchange;     // durable topic exchange for order events
  std::string routing_key;  // new orders
  std::string queue;        // new_order, dead-lettering to `dlq`
  std::string retry_queue;  // new_order.retry: per-message TTL, then back to `queue`
  std::string dlq;          // new_order.dlq
};

Topology topology_for(const config::RabbitSettings& settings);
void declare_topology(AmqpConnection& amqp, const Topology& topology);
// A new connection with the topology declared (relay, consumer and the dlq tool share it).
std::unique_ptr<AmqpConnection> connect_declared(const config::RabbitSettings& settings,
                                                 const Topology& topology);

}  // namespace os::events
