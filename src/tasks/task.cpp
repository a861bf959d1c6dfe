#include "tasks/task.hpp"

#include <charconv>

namespace os::tasks {
namespace {
using redis::cmd;
using redis::Command;
using redis::RedisReply;

std::int64_t to_int(const std::string& s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

// [id, [field, value, ...]] -> Task
std::optional<Task> parse_task_entry(const RedisReply& entry) {
  if (entry.elements.size() != 2 || entry.elements[1].type != RedisReply::Type::Array) {
    return std::nullopt;
  }
  Task t;
  t.entry_id = entry.elements[0].str;
  const auto& f = entry.elements[1].elements;
  for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
    const auto& k = f[i].str;
    const auto& v = f[i + 1].str;
    if (k == "task")
      t.name = v;
    else if (k == "order_id")
      t.order_id = v;
    else if (k == "event_id")
      t.event_id = v;
    else if (k == "trace_id")
      t.trace_id = v;
    else if (k == "attempt")
      t.attempt = static_cast<int>(to_int(v));
    else if (k == "not_before_ms")
      t.not_before_ms = to_int(v);
    else if (k == "enqueued_ms")
      t.enqueued_ms = to_int(v);
    else if (k == "deferrals")
      t.deferrals = static_cast<int>(to_int(v));
    else if (k == "last_error" || k == "reason")
      t.last_error = v;  // both hold the same text in dead letters
    else if (k == "dead_lettered_ms")
      t.dead_lettered_ms = to_int(v);
  }
  return t;
}

std::vector<Task> parse_task_entries(const RedisReply& list) {
  std::vector<Task> out;
  for (const auto& e : list.elements) {
    if (auto t = parse_task_entry(e)) out.push_back(std::move(*t));
  }
  return out;
}

Command task_fields(const Task& t, int attempt, int deferrals, std::int64_t not_before_ms,
                    const std::string& error) {
  auto c = cmd("task", t.name.empty() ? "process_order" : t.name, "order_id", t.order_id,
               "event_id", t.event_id, "attempt", std::to_string(attempt), "deferrals",
               std::to_string(deferrals), "not_before_ms", std::to_string(not_before_ms),
               "enqueued_ms", std::to_string(t.enqueued_ms));
  if (!t.trace_id.empty()) {
    c.emplace_back("trace_id");
    c.push_back(t.trace_id);
  }
  if (!error.empty()) {
    c.emplace_back("last_error");
    c.push_back(error);
  }
  return c;
}

Command add_command(const std::string& stream, const Task& t, int attempt, int deferrals,
                    std::int64_t not_before_ms, const std::string& error) {
  auto c = cmd("XADD", stream, "*");
  auto fields = task_fields(t, attempt, deferrals, not_before_ms, error);
  c.insert(c.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
  return c;
}

}  // namespace os::tasks
