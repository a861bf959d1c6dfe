#include "tasks/task_queue.hpp"

#include "core/logging.hpp"
#include "domain/clock.hpp"

namespace os::tasks {
namespace {
// How long an enqueue behind Sentinel waits for a replica to acknowledge the new tasks.
constexpr const char* kReplicaWaitMs = "250";
using redis::cmd;
using redis::Command;
using redis::RedisReply;

void throw_if_error(const RedisReply& r) {
  if (r.is_error()) throw redis::RedisUnavailable("Redis refused a task-queue command: " + r.str);
}
}  // namespace

awaitable<void> TaskQueue::enqueue_process_orders(
    const std::vector<domain::NewOrderEvent>& events) {
  std::vector<Command> commands;
  const auto now = domain::unix_ms();
  for (const auto& n : events) {
    Task t;
    t.name = "process_order";
    t.order_id = n.order_id;
    t.event_id = n.event_id;
    t.trace_id = n.trace_id;
    t.enqueued_ms = now;
    commands.push_back(add_command(settings_.stream, t, 0, 0, 0, ""));
  }
  // Behind Sentinel, a task the primary took but had not yet sent to its replica would be
  // lost if the primary died: wait (briefly) until a replica has it. With no replica up
  // the wait times out and the task is on the primary only (the reconciler is the net).
  if (redis_.follows_sentinel()) commands.push_back(cmd("WAIT", "1", kReplicaWaitMs));
  const auto replies = co_await redis_.pipeline(commands);
  for (const auto& reply : replies) throw_if_error(reply);
  if (redis_.follows_sentinel() && replies.back().integer < 1 &&
      Clock::now() >= next_unreplicated_warning_) {
    next_unreplicated_warning_ = Clock::now() + std::chrono::minutes(1);
    log::warn("task-queue Redis has no replica that took the new tasks in time",
              {{"tasks", static_cast<std::int64_t>(events.size())}});
  }
}

awaitable<void> TaskQueue::ensure_group() {
  const auto r = co_await redis_.command(
      cmd("XGROUP", "CREATE", settings_.stream, settings_.group, "0", "MKSTREAM"));
  if (r.is_error() && r.str.rfind("BUSYGROUP", 0) != 0) throw_if_error(r);
}

awaitable<std::vector<Task>> TaskQueue::read(const std::string& consumer, int count, Millis block) {
  const auto r = co_await reads_.command(
      cmd("XREADGROUP", "GROUP", settings_.group, consumer, "COUNT", std::to_string(count), "BLOCK",
          std::to_string(block.count()), "STREAMS", settings_.stream, ">"),
      block + reads_.timeout() + Millis(1000));
  if (r.is_error() && r.str.rfind("NOGROUP", 0) == 0) {
    co_await ensure_group();  // the stream was deleted under us
    co_return std::vector<Task>{};
  }
  throw_if_error(r);
  std::vector<Task> out;
  for (const auto& stream : r.elements) {  // [[name, entries]]
    if (stream.elements.size() == 2) {
      auto tasks = parse_task_entries(stream.elements[1]);
      out.insert(out.end(), tasks.begin(), tasks.end());
    }
  }
  co_return out;
}

awaitable<std::vector<Task>> TaskQueue::reclaim(const std::string& consumer, int count) {
  const auto idle_ms = std::chrono::duration_cast<Millis>(settings_.visibility_timeout).count();
  const auto r =
      co_await redis_.command(cmd("XAUTOCLAIM", settings_.stream, settings_.group, consumer,
                                  std::to_string(idle_ms), "0-0", "COUNT", std::to_string(count)));
  throw_if_error(r);
  if (r.elements.size() < 2) co_return std::vector<Task>{};
  co_return parse_task_entries(r.elements[1]);
}

awaitable<void> TaskQueue::transaction(std::vector<Command> commands) {
  commands.insert(commands.begin(), cmd("MULTI"));
  commands.push_back(cmd("EXEC"));
  const auto replies = co_await redis_.pipeline(commands);
  for (const auto& r : replies) throw_if_error(r);
  if (replies.back().is_nil()) throw redis::RedisUnavailable("task-queue transaction aborted");
}

awaitable<void> TaskQueue::ack(const Task& task) {
  std::vector<Command> c;
  c.push_back(cmd("XACK", settings_.stream, settings_.group, task.entry_id));
  c.push_back(cmd("XDEL", settings_.stream, task.entry_id));
  co_await transaction(std::move(c));
}

awaitable<void> TaskQueue::retry(const Task& task, Millis delay, const std::string& error) {
  std::vector<Command> c;
  c.push_back(add_command(settings_.stream, task, task.attempt + 1, task.deferrals,
                          domain::unix_ms() + delay.count(), error));
  c.push_back(cmd("XACK", settings_.stream, settings_.group, task.entry_id));
  c.push_back(cmd("XDEL", settings_.stream, task.entry_id));
  co_await transaction(std::move(c));
}

awaitable<void> TaskQueue::defer(const Task& task, Millis delay, const std::string& error) {
  std::vector<Command> c;
  c.push_back(add_command(settings_.stream, task, task.attempt, task.deferrals + 1,
                          domain::unix_ms() + delay.count(), error));
  c.push_back(cmd("XACK", settings_.stream, settings_.group, task.entry_id));
  c.push_back(cmd("XDEL", settings_.stream, task.entry_id));
  co_await transaction(std::move(c));
}

awaitable<std::vector<Task>> TaskQueue::dead_letters(int count) {
  const auto r = co_await redis_.command(
      cmd("XRANGE", settings_.dead_stream, "-", "+", "COUNT", std::to_string(count)));
  throw_if_error(r);
  co_return parse_task_entries(r);
}

awaitable<std::vector<std::string>> TaskQueue::replay(const std::vector<Task>& dead) {
  // Moves an entry only if it is still in the dead-letter stream, so two concurrent
  // replays never both re-add it.
  static constexpr const char* kMove =
      "if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then "
      "  redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2)) return 1 end "
      "return 0";
  std::vector<std::string> moved;
  for (const auto& task : dead) {
    Task fresh = task;
    fresh.enqueued_ms = domain::unix_ms();
    const auto add = add_command(settings_.stream, fresh, 0, 0, 0, "");
    Command c = cmd("EVAL", kMove, "2", settings_.dead_stream, settings_.stream, task.entry_id);
    c.insert(c.end(), add.begin() + 3, add.end());  // the field/value pairs after "XADD s *"
    const auto r = co_await redis_.command(c);
    throw_if_error(r);
    if (r.integer == 1) moved.push_back(task.entry_id);
  }
  co_return moved;
}

awaitable<void> TaskQueue::dead_letter(const Task& task, const std::string& error) {
  std::vector<Command> c;
  auto entry = add_command(settings_.dead_stream, task, task.attempt, task.deferrals, 0, error);
  entry.emplace_back("reason");
  entry.push_back(error);
  entry.emplace_back("dead_lettered_ms");
  entry.push_back(std::to_string(domain::unix_ms()));
  c.push_back(std::move(entry));
  c.push_back(cmd("XACK", settings_.stream, settings_.group, task.entry_id));
  c.push_back(cmd("XDEL", settings_.stream, task.entry_id));
  co_await transaction(std::move(c));
}

awaitable<std::int64_t> TaskQueue::depth() {
  co_return (co_await redis_.command(cmd("XLEN", settings_.stream))).integer;
}

awaitable<std::int64_t> TaskQueue::dead_depth() {
  co_return (co_await redis_.command(cmd("XLEN", settings_.dead_stream))).integer;
}

awaitable<std::string> TaskQueue::server_setting(const std::string& name) {
  const auto r = co_await redis_.command(cmd("CONFIG", "GET", name));
  if (r.is_error() || r.elements.size() < 2) co_return std::string{};
  co_return r.elements[1].str;
}

awaitable<void> warn_if_tasks_can_be_lost(TaskQueue& queue) {
  try {
    const auto policy = co_await queue.server_setting("maxmemory-policy");
    const auto appendonly = co_await queue.server_setting("appendonly");
    const auto fsync = co_await queue.server_setting("appendfsync");
    if (policy.empty()) {
      log::warn(
          "cannot read the task-queue Redis settings (CONFIG GET refused); make sure "
          "maxmemory-policy is noeviction and appendfsync always");
      co_return;
    }
    if (policy != "noeviction") {
      log::warn(
          "task-queue Redis may evict tasks: set maxmemory-policy noeviction (the "
          "reconciler re-enqueues lost tasks after RECONCILE_AFTER_SECONDS)",
          {{"maxmemory-policy", policy}});
    }
    if (appendonly != "yes" || fsync != "always") {
      log::warn(
          "task-queue Redis may lose recent tasks in a crash: set appendonly yes and "
          "appendfsync always (the reconciler re-enqueues lost tasks after "
          "RECONCILE_AFTER_SECONDS)",
          {{"appendonly", appendonly}, {"appendfsync", fsync}});
    }
  } catch (const std::exception&) {
    // Redis is down: the roles' own loops report that.
  }
}

}  // namespace os::tasks
