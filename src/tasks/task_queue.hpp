// The background task queue: a Redis stream with a consumer group (never RabbitMQ).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "domain/new_order_event.hpp"
#include "redis/client.hpp"
#include "tasks/task.hpp"

namespace os::tasks {

class TaskQueue {
 public:
  TaskQueue(redis::RedisClient& redis, const config::TaskSettings& settings)
      : TaskQueue(redis, redis, settings) {}
  // A worker's: `redis` may be multiplexed (every command but the blocking read is short,
  // and a MULTI … EXEC always goes whole in one pipeline), `blocking_reads` is a pooled
  // client that read()'s XREADGROUP BLOCK may hold.
  TaskQueue(redis::RedisClient& redis, redis::RedisClient& blocking_reads,
            const config::TaskSettings& settings)
      : redis_(redis), reads_(blocking_reads), settings_(settings) {}

  // Entries are appended with XADD in one pipelined round trip per call.
  // One process_order task per (order_id, event_id), in one pipelined round trip.
  awaitable<void> enqueue_process_orders(const std::vector<domain::NewOrderEvent>& events);
  // Creates the consumer group (reading from the start of the stream) if missing.
  awaitable<void> ensure_group();
  // New tasks for this consumer; blocks up to `block` when there are none.
  awaitable<std::vector<Task>> read(const std::string& consumer, int count, Millis block);
  // Tasks another worker took but did not ack within the visibility timeout.
  awaitable<std::vector<Task>> reclaim(const std::string& consumer, int count);
  awaitable<void> ack(const Task& task);
  // Re-enqueues with attempt+1, due after `delay`, and acks the old entry atomically.
  awaitable<void> retry(const Task& task, Millis delay, const std::string& error);
  // Same, for a run put off because a dependency was down: deferrals+1, attempt kept.
  awaitable<void> defer(const Task& task, Millis delay, const std::string& error);
  // Dead-letter entries, oldest first (at most `count`).
  awaitable<std::vector<Task>> dead_letters(int count);
  // Moves dead-letter entries back to the task stream as fresh tasks (attempt 0), each
  // atomically; returns the ids moved (ids not in the dead-letter stream are skipped).
  awaitable<std::vector<std::string>> replay(const std::vector<Task>& dead);
  // Moves to the dead-letter stream and acks, atomically.
  awaitable<void> dead_letter(const Task& task, const std::string& error);
  awaitable<std::int64_t> depth();
  awaitable<std::int64_t> dead_depth();
  // CONFIG GET name on the task-queue Redis (empty when unknown or refused).
  awaitable<std::string> server_setting(const std::string& name);

 private:
  awaitable<void> transaction(std::vector<redis::Command> commands);

  redis::RedisClient& redis_;
  redis::RedisClient& reads_;  // read(): may block its connection
  const config::TaskSettings& settings_;
  Clock::time_point next_unreplicated_warning_{};  // at most one warning a minute
};

// Reads the task-queue Redis' eviction and persistence settings and logs a warning naming
// each one that lets tasks vanish (maxmemory-policy other than noeviction; appendonly off
// or appendfsync other than always). Best effort: never throws.
awaitable<void> warn_if_tasks_can_be_lost(TaskQueue& queue);

}  // namespace os::tasks
