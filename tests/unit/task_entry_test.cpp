// tasks::Task's stream encoding: what XADD writes is what a read gives back, and a
// malformed entry is skipped rather than taken as a task.
#include "tasks/task.hpp"

#include <gtest/gtest.h>

using os::redis::RedisReply;
using os::tasks::add_command;
using os::tasks::parse_task_entries;
using os::tasks::parse_task_entry;
using os::tasks::Task;

namespace {

RedisReply bulk(std::string s) {
  RedisReply r;
  r.type = RedisReply::Type::String;
  r.str = std::move(s);
  return r;
}

RedisReply array(std::vector<RedisReply> elements) {
  RedisReply r;
  r.type = RedisReply::Type::Array;
  r.elements = std::move(elements);
  return r;
}

// The entry Redis would return for `command` (XADD stream * field value ...).
RedisReply entry_for(const std::vector<std::string>& command, const std::string& id) {
  std::vector<RedisReply> fields;
  for (std::size_t i = 3; i < command.size(); ++i) fields.push_back(bulk(command[i]));
  return array({bulk(id), array(std::move(fields))});
}

}  // namespace

TEST(TaskEntry, RoundTripsThroughTheStreamEncoding) {
  Task t;
  t.name = "process_order";
  t.order_id = "0190b2a4-7c1e-7f00-8a00-000000000001";
  t.event_id = "e-1";
  t.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  t.enqueued_ms = 1'700'000'000'123;
  const auto command = add_command("tasks:process_order", t, 3, 2, 1'700'000'009'000, "boom");
  ASSERT_EQ(command[0], "XADD");
  EXPECT_EQ(command[1], "tasks:process_order");
  const auto back = parse_task_entry(entry_for(command, "1-0"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->entry_id, "1-0");
  EXPECT_EQ(back->name, "process_order");
  EXPECT_EQ(back->order_id, t.order_id);
  EXPECT_EQ(back->event_id, "e-1");
  EXPECT_EQ(back->trace_id, t.trace_id);
  EXPECT_EQ(back->attempt, 3);
  EXPECT_EQ(back->deferrals, 2);
  EXPECT_EQ(back->not_before_ms, 1'700'000'009'000);
  EXPECT_EQ(back->enqueued_ms, 1'700'000'000'123);
  EXPECT_EQ(back->last_error, "boom");
}

TEST(TaskEntry, LeavesOutEmptyOptionalFields) {
  Task t;
  t.order_id = "o";
  const auto command = add_command("s", t, 0, 0, 0, "");
  for (const auto& word : command) {
    EXPECT_NE(word, "trace_id");
    EXPECT_NE(word, "last_error");
  }
  const auto back = parse_task_entry(entry_for(command, "2-0"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "process_order");  // a task without a name is a process_order
}

TEST(TaskEntry, SkipsEntriesWithoutTheShapeAndIgnoresUnknownFields) {
  const auto good =
      array({bulk("1-0"), array({bulk("task"), bulk("process_order"), bulk("order_id"), bulk("o"),
                                 bulk("colour"), bulk("blue"), bulk("attempt"), bulk("x")})});
  const auto deleted = array({bulk("2-0"), RedisReply{}});  // XAUTOCLAIM of a deleted entry
  const auto tasks = parse_task_entries(array({good, deleted, bulk("junk")}));
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].order_id, "o");
  EXPECT_EQ(tasks[0].attempt, 0);  // not a number: 0
}
