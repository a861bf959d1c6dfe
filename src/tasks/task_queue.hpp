// The background task queue: a Redis stream with a consumer group (never RabbitMQ).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cache/redis_client.hpp"
#include "config/settings.hpp"

namespace os::tasks {

struct Task {
  std::string entry_id;  // stream entry id
  std::string name;      // "process_order"
  std::string order_id;
  std::string event_id;
  int attempt = 0;                 // 0 for the first run
  std::int64_t not_before_ms = 0;  // unix ms; a retry waits until then
  std::int64_t enqueued_ms = 0;
};

class TaskQueue {
 public:
  TaskQueue(cache::RedisClient& redis, const config::TaskSettings& settings)
      : redis_(redis), settings_(settings) {}

  // One process_order task per (order_id, event_id), in one pipelined round trip.
  awaitable<void> enqueue_process_orders(
      const std::vector<std::pair<std::string, std::string>>& order_and_event_ids);
  // Creates the consumer group (reading from the start of the stream) if missing.
  awaitable<void> ensure_group();
  // New tasks for this consumer; blocks up to `block` when there are none.
  awaitable<std::vector<Task>> read(const std::string& consumer, int count, Millis block);
  // Tasks another worker took but did not ack within the visibility timeout.
  awaitable<std::vector<Task>> reclaim(const std::string& consumer, int count);
  awaitable<void> ack(const Task& task);
  // Re-enqueues with attempt+1, due after `delay`, and acks the old entry atomically.
  awaitable<void> retry(const Task& task, Millis delay, const std::string& error);
  // Moves to the dead-letter stream and acks, atomically.
  awaitable<void> dead_letter(const Task& task, const std::string& error);
  awaitable<std::int64_t> depth();
  awaitable<std::int64_t> dead_depth();

 private:
  awaitable<void> transaction(std::vector<cache::Command> commands);

  cache::RedisClient& redis_;
  const config::TaskSettings& settings_;
};

std::int64_t unix_ms();

}  // namespace os::tasks
