// The background task queue: a Redis stream with a consumer group (never RabbitMQ).
//
// At most one live task per order. A hash (`<stream>:live`, order id -> entry id, or
// "delayed") names each order's live task, and every change of a task (enqueue, finish,
// delay, promotion, replay) is one Lua script that keeps it true, so an enqueue for an
// order whose task is waiting in the stream, pending with a worker, or waiting out a
// backoff adds nothing: however long the workers are away, the stream holds one entry
// per unprocessed order. A task that must wait (retry backoff, a dependency down) leaves
// the stream for a sorted set (`<stream>:delayed`, by due time; its fields in
// `<stream>:delayed:tasks`) and is moved back when due: no worker slot sleeps, and
// nothing waiting can be reclaimed as if its worker had died.
//
// Bounds: the stream, the live hash and the delayed set hold at most one entry per
// unprocessed order (plus entries of older binaries and duplicates a worker drops on
// sight); the dead-letter stream is trimmed to about TASK_DEAD_LETTER_MAX entries.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "core/periodic.hpp"
#include "domain/new_order_event.hpp"
#include "redis/client.hpp"
#include "tasks/task.hpp"

namespace os::tasks {

// Tasks a read or reclaim handed over: those to run, and how many were dropped on sight
// (not their order's live task: a duplicate, acked and deleted without running).
struct TaskBatch {
  std::vector<Task> run;
  std::size_t dropped = 0;
};

class TaskQueue {
 public:
  TaskQueue(redis::RedisClient& redis, const config::TaskSettings& settings)
      : TaskQueue(redis, redis, settings) {}
  // A worker's: `redis` may be multiplexed (every command but the blocking read is short),
  // `blocking_reads` is a pooled client that read()'s XREADGROUP BLOCK may hold.
  TaskQueue(redis::RedisClient& redis, redis::RedisClient& blocking_reads,
            const config::TaskSettings& settings);

  // One process_order task per order that has no live task yet, in one script call;
  // returns how many were added.
  awaitable<std::size_t> enqueue_process_orders(const std::vector<domain::NewOrderEvent>& events);
  // Creates the consumer group (reading from the start of the stream) if missing.
  awaitable<void> ensure_group();
  // New tasks for this consumer; blocks up to `block` when there are none.
  awaitable<TaskBatch> read(const std::string& consumer, int count, Millis block);
  // Tasks another worker took but did not ack within the visibility timeout.
  awaitable<TaskBatch> reclaim(const std::string& consumer, int count);
  // Resets the idle time of tasks this consumer is running, so that none is reclaimed
  // while its worker is alive, however long it runs.
  awaitable<void> keep_claimed(const std::string& consumer,
                               const std::vector<std::string>& entries);
  // Moves delayed tasks that are due back into the stream (at most `limit`); returns how many.
  awaitable<std::size_t> promote_due(int limit);
  awaitable<void> ack(const Task& task);
  // Delayed by `delay` with attempt+1 (a failure of unknown cause).
  awaitable<void> retry(const Task& task, Millis delay, const std::string& error);
  // Delayed by `delay` with deferrals+1, attempt kept (a dependency was down).
  awaitable<void> defer(const Task& task, Millis delay, const std::string& error);
  // Delayed until its own not_before_ms, unchanged (an entry written by an older binary
  // that was not due yet).
  awaitable<void> park(const Task& task);
  // Moves to the dead-letter stream and acks, atomically.
  awaitable<void> dead_letter(const Task& task, const std::string& error);
  // Dead-letter entries, oldest first (at most `count`).
  awaitable<std::vector<Task>> dead_letters(int count);
  // Moves dead-letter entries back as fresh tasks (attempt 0), each atomically (an order
  // that has a live task again keeps that one); returns the ids taken out of the
  // dead-letter stream (ids not there are skipped).
  awaitable<std::vector<std::string>> replay(const std::vector<Task>& dead);
  awaitable<std::int64_t> depth();
  awaitable<std::int64_t> delayed_depth();
  awaitable<std::int64_t> dead_depth();
  // CONFIG GET name on the task-queue Redis (empty when unknown or refused).
  awaitable<std::string> server_setting(const std::string& name);

  const std::string& live_key() const { return live_; }
  const std::string& delayed_key() const { return delayed_; }

 private:
  awaitable<void> delay(const Task& task, std::int64_t due_unix_ms, redis::Command fields);
  // Splits a read's entries into live tasks and duplicates, which it acks and deletes.
  awaitable<TaskBatch> keep_live(std::vector<Task> tasks);

  redis::RedisClient& redis_;
  redis::RedisClient& reads_;  // read(): may block its connection
  const config::TaskSettings& settings_;
  std::string live_, delayed_, delayed_tasks_;
  Every unreplicated_warning_{std::chrono::minutes(1), 0.0};  // at most one warning a minute
};

// Reads the task-queue Redis' eviction and persistence settings and logs a warning naming
// each one that lets tasks vanish (maxmemory-policy other than noeviction; appendonly off
// or appendfsync other than always). Best effort: never throws.
awaitable<void> warn_if_tasks_can_be_lost(TaskQueue& queue);

}  // namespace os::tasks
