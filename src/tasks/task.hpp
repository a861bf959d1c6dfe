// A background task as it lives in the task stream: its fields, and their Redis stream
// encoding (XADD arguments in, XREADGROUP/XAUTOCLAIM/XRANGE entries out). Pure: no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "redis/connection.hpp"

namespace os::tasks {

struct Task {
  std::string entry_id;  // stream entry id
  std::string name;      // "process_order"
  std::string order_id;
  std::string event_id;
  std::string trace_id;
  int attempt = 0;                 // runs that failed for an unknown reason so far
  int deferrals = 0;               // runs put off because a dependency was down
  std::int64_t not_before_ms = 0;  // unix ms; a retry waits until then
  std::int64_t enqueued_ms = 0;
  std::string last_error;             // why the previous run failed, if it did
  std::int64_t dead_lettered_ms = 0;  // entries of the dead-letter stream only
};

// The task's field/value pairs as a stream entry holds them; `attempt`, `deferrals`,
// `not_before_ms` and `error` (as last_error, when not empty) replace the task's own.
redis::Command task_fields(const Task& task, int attempt, int deferrals, std::int64_t not_before_ms,
                           const std::string& error);
// XADD `stream` * with the task's fields; `attempt`, `deferrals`, `not_before_ms` and
// `error` (as last_error, when not empty) replace the task's own.
redis::Command add_command(const std::string& stream, const Task& task, int attempt, int deferrals,
                           std::int64_t not_before_ms, const std::string& error);

// One stream entry, [id, [field, value, ...]]; nullopt when it has not that shape.
// Unknown fields are ignored; a number that does not parse reads as 0.
std::optional<Task> parse_task_entry(const redis::RedisReply& entry);
// A list of entries; entries without the shape are skipped.
std::vector<Task> parse_task_entries(const redis::RedisReply& list);

}  // namespace os::tasks
