#include "tasks/task_queue.hpp"

#include "core/logging.hpp"
#include "domain/clock.hpp"
#include "redis/script.hpp"

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

// Whether `order` has a live task: its entry still in the stream, or waiting in the
// delayed set. KEYS of the calling script: stream, live, delayed (in that order first).
constexpr const char* kIsLive =
    "local function is_live(order) "
    "  local id = redis.call('HGET', KEYS[2], order) "
    "  if not id then return false end "
    "  if id == 'delayed' then return redis.call('ZSCORE', KEYS[3], order) ~= false end "
    "  return #redis.call('XRANGE', KEYS[1], id, id) > 0 "
    "end ";

// KEYS stream, live, delayed. ARGV: per task, order id, field count, fields.
const redis::Script kEnqueue{
    std::string(kIsLive) +
    "local added, i = 0, 1 "
    "while i <= #ARGV do "
    "  local order, n = ARGV[i], tonumber(ARGV[i + 1]) "
    "  if not is_live(order) then "
    "    local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 2, i + 1 + n)) "
    "    redis.call('HSET', KEYS[2], order, id) "
    "    added = added + 1 "
    "  end "
    "  i = i + 2 + n "
    "end "
    "return added"};

// KEYS stream, live, dead. ARGV group, entry, order, dead-letter max length, then the
// dead letter's fields (none: a plain ack). The live mark goes with its own entry only.
const redis::Script kFinish{
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('XDEL', KEYS[1], ARGV[2]) "
    "if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[2] then redis.call('HDEL', KEYS[2], ARGV[3]) "
    "end "
    "if #ARGV > 4 then "
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5)) "
    "end "
    "return 1"};

// KEYS stream, live, delayed, delayed fields. ARGV group, entry, order, due (unix ms),
// fields. Only the order's live task (or an entry of an older binary, which has no live
// mark) is delayed; a duplicate is just dropped.
const redis::Script kDelay{
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('XDEL', KEYS[1], ARGV[2]) "
    "local cur = redis.call('HGET', KEYS[2], ARGV[3]) "
    "if cur and cur ~= ARGV[2] then return 0 end "
    "redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3]) "
    "redis.call('HSET', KEYS[4], ARGV[3], cjson.encode({unpack(ARGV, 5)})) "
    "redis.call('HSET', KEYS[2], ARGV[3], 'delayed') "
    "return 1"};

// KEYS delayed, delayed fields, stream, live. ARGV now (unix ms), limit.
const redis::Script kPromote{
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2]) "
    "for _, order in ipairs(due) do "
    "  local fields = redis.call('HGET', KEYS[2], order) "
    "  redis.call('ZREM', KEYS[1], order) "
    "  redis.call('HDEL', KEYS[2], order) "
    "  if fields then "
    "    local id = redis.call('XADD', KEYS[3], '*', unpack(cjson.decode(fields))) "
    "    redis.call('HSET', KEYS[4], order, id) "
    "  elseif redis.call('HGET', KEYS[4], order) == 'delayed' then "
    "    redis.call('HDEL', KEYS[4], order) "
    "  end "
    "end "
    "return #due"};

// KEYS stream, live, delayed, dead. ARGV dead entry id, order, fields. 0: not in the
// dead-letter stream (moved by someone else); 1: moved; 2: taken out, the order already
// has a live task again.
const redis::Script kReplay{std::string(kIsLive) +
                            "if redis.call('XDEL', KEYS[4], ARGV[1]) == 0 then return 0 end "
                            "if is_live(ARGV[2]) then return 2 end "
                            "local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3)) "
                            "redis.call('HSET', KEYS[2], ARGV[2], id) "
                            "return 1"};

}  // namespace

TaskQueue::TaskQueue(redis::RedisClient& redis, redis::RedisClient& blocking_reads,
                     const config::TaskSettings& settings)
    : redis_(redis),
      reads_(blocking_reads),
      settings_(settings),
      live_(settings.stream + ":live"),
      delayed_(settings.stream + ":delayed"),
      delayed_tasks_(settings.stream + ":delayed:tasks") {}

awaitable<std::size_t> TaskQueue::enqueue_process_orders(
    const std::vector<domain::NewOrderEvent>& events) {
  if (events.empty()) co_return 0;
  Command args = cmd(settings_.stream, live_, delayed_);
  const auto now = domain::unix_ms();
  for (const auto& n : events) {
    Task t;
    t.name = "process_order";
    t.order_id = n.order_id;
    t.event_id = n.event_id;
    t.trace_id = n.trace_id;
    t.enqueued_ms = now;
    auto fields = task_fields(t, 0, 0, 0, "");
    args.push_back(n.order_id);
    args.push_back(std::to_string(fields.size()));
    args.insert(args.end(), std::make_move_iterator(fields.begin()),
                std::make_move_iterator(fields.end()));
  }
  const auto added = co_await kEnqueue.run(redis_, 3, std::move(args));
  throw_if_error(added);
  // Behind Sentinel, a task the primary took but had not yet sent to its replica would be
  // lost if the primary died: wait (briefly) until a replica has it. With no replica up
  // the wait times out and the task is on the primary only (the reconciler is the net).
  if (redis_.follows_sentinel()) {
    const auto wait = co_await redis_.command(cmd("WAIT", "1", kReplicaWaitMs));
    throw_if_error(wait);
    if (wait.integer < 1 && unreplicated_warning_.due(Clock::now())) {
      log::warn("task-queue Redis has no replica that took the new tasks in time",
                {{"tasks", static_cast<std::int64_t>(events.size())}});
    }
  }
  co_return static_cast<std::size_t>(added.integer);
}

awaitable<void> TaskQueue::ensure_group() {
  const auto r = co_await redis_.command(
      cmd("XGROUP", "CREATE", settings_.stream, settings_.group, "0", "MKSTREAM"));
  if (r.is_error() && r.str.rfind("BUSYGROUP", 0) != 0) throw_if_error(r);
}

awaitable<TaskBatch> TaskQueue::keep_live(std::vector<Task> tasks) {
  TaskBatch batch;
  if (tasks.empty()) co_return batch;
  Command marks = cmd("HMGET", live_);
  for (const auto& t : tasks) marks.push_back(t.order_id);
  const auto reply = co_await redis_.command(marks);
  throw_if_error(reply);
  Command ack = cmd("XACK", settings_.stream, settings_.group);
  Command del = cmd("XDEL", settings_.stream);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto* mark = i < reply.elements.size() ? &reply.elements[i] : nullptr;
    // No mark: an entry of an older binary (or of a Redis that lost the hash): it runs.
    if (mark == nullptr || mark->is_nil() || mark->str == tasks[i].entry_id) {
      batch.run.push_back(std::move(tasks[i]));
    } else {
      ack.push_back(tasks[i].entry_id);
      del.push_back(tasks[i].entry_id);
      ++batch.dropped;
    }
  }
  if (batch.dropped > 0) {
    const std::vector<Command> drop{std::move(ack), std::move(del)};  // named: GCC 12
    for (const auto& r : co_await redis_.pipeline(drop)) throw_if_error(r);
  }
  co_return batch;
}

awaitable<TaskBatch> TaskQueue::read(const std::string& consumer, int count, Millis block) {
  const auto r = co_await reads_.command(
      cmd("XREADGROUP", "GROUP", settings_.group, consumer, "COUNT", std::to_string(count), "BLOCK",
          std::to_string(block.count()), "STREAMS", settings_.stream, ">"),
      block + reads_.timeout() + Millis(1000));
  if (r.is_error() && r.str.rfind("NOGROUP", 0) == 0) {
    co_await ensure_group();  // the stream was deleted under us
    co_return TaskBatch{};
  }
  throw_if_error(r);
  std::vector<Task> out;
  for (const auto& stream : r.elements) {  // [[name, entries]]
    if (stream.elements.size() == 2) {
      auto tasks = parse_task_entries(stream.elements[1]);
      out.insert(out.end(), tasks.begin(), tasks.end());
    }
  }
  co_return co_await keep_live(std::move(out));
}

awaitable<TaskBatch> TaskQueue::reclaim(const std::string& consumer, int count) {
  const auto idle_ms = std::chrono::duration_cast<Millis>(settings_.visibility_timeout).count();
  const auto r =
      co_await redis_.command(cmd("XAUTOCLAIM", settings_.stream, settings_.group, consumer,
                                  std::to_string(idle_ms), "0-0", "COUNT", std::to_string(count)));
  throw_if_error(r);
  if (r.elements.size() < 2) co_return TaskBatch{};
  co_return co_await keep_live(parse_task_entries(r.elements[1]));
}

awaitable<void> TaskQueue::keep_claimed(const std::string& consumer,
                                        const std::vector<std::string>& entries) {
  if (entries.empty()) co_return;
  Command c = cmd("XCLAIM", settings_.stream, settings_.group, consumer, "0");
  c.insert(c.end(), entries.begin(), entries.end());
  c.emplace_back("JUSTID");
  throw_if_error(co_await redis_.command(c));
}

awaitable<std::size_t> TaskQueue::promote_due(int limit) {
  const auto r =
      co_await kPromote.run(redis_, 4,
                            cmd(delayed_, delayed_tasks_, settings_.stream, live_,
                                std::to_string(domain::unix_ms()), std::to_string(limit)));
  throw_if_error(r);
  co_return static_cast<std::size_t>(r.integer);
}

awaitable<void> TaskQueue::ack(const Task& task) {
  throw_if_error(co_await kFinish.run(
      redis_, 3,
      cmd(settings_.stream, live_, settings_.dead_stream, settings_.group, task.entry_id,
          task.order_id, std::to_string(settings_.dead_letter_max))));
}

awaitable<void> TaskQueue::dead_letter(const Task& task, const std::string& error) {
  auto args = cmd(settings_.stream, live_, settings_.dead_stream, settings_.group, task.entry_id,
                  task.order_id, std::to_string(settings_.dead_letter_max));
  auto fields = task_fields(task, task.attempt, task.deferrals, 0, error);
  args.insert(args.end(), std::make_move_iterator(fields.begin()),
              std::make_move_iterator(fields.end()));
  args.emplace_back("reason");
  args.push_back(error);
  args.emplace_back("dead_lettered_ms");
  args.push_back(std::to_string(domain::unix_ms()));
  throw_if_error(co_await kFinish.run(redis_, 3, std::move(args)));
}

awaitable<void> TaskQueue::delay(const Task& task, std::int64_t due_unix_ms, Command fields) {
  auto args = cmd(settings_.stream, live_, delayed_, delayed_tasks_, settings_.group, task.entry_id,
                  task.order_id, std::to_string(due_unix_ms));
  args.insert(args.end(), std::make_move_iterator(fields.begin()),
              std::make_move_iterator(fields.end()));
  throw_if_error(co_await kDelay.run(redis_, 4, std::move(args)));
}

awaitable<void> TaskQueue::retry(const Task& task, Millis delay_by, const std::string& error) {
  const auto due = domain::unix_ms() + delay_by.count();
  co_await delay(task, due, task_fields(task, task.attempt + 1, task.deferrals, due, error));
}

awaitable<void> TaskQueue::defer(const Task& task, Millis delay_by, const std::string& error) {
  const auto due = domain::unix_ms() + delay_by.count();
  co_await delay(task, due, task_fields(task, task.attempt, task.deferrals + 1, due, error));
}

awaitable<void> TaskQueue::park(const Task& task) {
  co_await delay(
      task, task.not_before_ms,
      task_fields(task, task.attempt, task.deferrals, task.not_before_ms, task.last_error));
}

awaitable<std::vector<Task>> TaskQueue::dead_letters(int count) {
  const auto r = co_await redis_.command(
      cmd("XRANGE", settings_.dead_stream, "-", "+", "COUNT", std::to_string(count)));
  throw_if_error(r);
  co_return parse_task_entries(r);
}

awaitable<std::vector<std::string>> TaskQueue::replay(const std::vector<Task>& dead) {
  std::vector<std::string> moved;
  for (const auto& task : dead) {
    Task fresh = task;
    fresh.enqueued_ms = domain::unix_ms();
    auto args =
        cmd(settings_.stream, live_, delayed_, settings_.dead_stream, task.entry_id, task.order_id);
    auto fields = task_fields(fresh, 0, 0, 0, "");
    args.insert(args.end(), std::make_move_iterator(fields.begin()),
                std::make_move_iterator(fields.end()));
    const auto r = co_await kReplay.run(redis_, 4, std::move(args));
    throw_if_error(r);
    if (r.integer != 0) moved.push_back(task.entry_id);
  }
  co_return moved;
}

awaitable<std::int64_t> TaskQueue::depth() {
  co_return (co_await redis_.command(cmd("XLEN", settings_.stream))).integer;
}

awaitable<std::int64_t> TaskQueue::delayed_depth() {
  co_return (co_await redis_.command(cmd("ZCARD", delayed_))).integer;
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
