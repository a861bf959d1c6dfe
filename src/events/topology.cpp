#include "events/topology.hpp"

namespace os::events {

Topology topology_for(const config::RabbitSettings& s) {
  return Topology{s.exchange,
                  s.routing_key,
                  s.new_order_queue,
                  s.new_order_queue + ".retry",
                  s.new_order_queue + ".dlq",
                  s.queue_type};
}

void declare_topology(amqp::AmqpConnection& broker, const Topology& t) {
  broker.declare_topic_exchange(t.exchange);
  // "" is the default exchange: dead letters go straight to the named queue.
  broker.declare_queue(t.dlq, {.type = t.queue_type});
  broker.declare_queue(
      t.queue,
      {.type = t.queue_type, .dead_letter_exchange = "", .dead_letter_routing_key = t.dlq});
  broker.declare_queue(
      t.retry_queue,
      {.type = t.queue_type, .dead_letter_exchange = "", .dead_letter_routing_key = t.queue});
  broker.bind_queue(t.queue, t.exchange, t.routing_key);
}

std::unique_ptr<amqp::AmqpConnection> connect_declared(const config::RabbitSettings& settings,
                                                       const Topology& topology) {
  auto conn = std::make_unique<amqp::AmqpConnection>(settings);
  declare_topology(*conn, topology);
  return conn;
}

}  // namespace os::events
