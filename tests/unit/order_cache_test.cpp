// The order cache's value layout and generation rules (cache/order_cache.hpp): a value is
// served only if it was written in the current generation, and a failed write after a
// change keeps the process from serving anything until the generation has advanced.
#include "cache/order_cache.hpp"

#include <gtest/gtest.h>

using os::cache::cached_order_value;
using os::cache::CacheGeneration;
using os::cache::look_up;
using os::cache::Lookup;
using os::cache::parse_cached_order;

TEST(CachedOrderValue, RoundTrips) {
  const auto value = cached_order_value(1718000000123, 7, 42, R"({"id":"x","note":"a:b"})");
  EXPECT_EQ(value, R"(g1718000000123:7:42:{"id":"x","note":"a:b"})");
  const auto entry = parse_cached_order(value);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->generation, 1718000000123);
  EXPECT_EQ(entry->version, 7);
  EXPECT_EQ(entry->user_id, 42);
  EXPECT_EQ(entry->json, R"({"id":"x","note":"a:b"})");
}

TEST(CachedOrderValue, RejectsAnythingElse) {
  for (const std::string& value : {
           std::string(""),
           std::string("g"),
           std::string("g1:2:3:"),     // no JSON
           std::string("g1:2:{}"),     // a field missing
           std::string("gx:2:3:{}"),   // not a number
           std::string("g1:2x:3:{}"),  // not a number
           std::string("g:2:3:{}"),
           std::string("1:2:3:{}"),  // no leading "g"
           // the layout before generations ("<version>:<user_id>:<json>"): a miss, so
           // a value an older process wrote is never misread (and vice versa: it does
           // not parse "g…" as a version)
           std::string(R"(3:42:{"id":"x"})"),
       }) {
    EXPECT_FALSE(parse_cached_order(value)) << value;
  }
}

TEST(CacheLookup, ServesOnlyValuesOfTheCurrentGeneration) {
  const auto current = cached_order_value(200, 3, 9, "{}");
  const auto older = cached_order_value(100, 8, 9, "{}");  // even with a newer version

  auto hit = look_up("200", current);
  EXPECT_EQ(hit.kind, Lookup::Kind::Hit);
  EXPECT_EQ(hit.generation, 200);
  ASSERT_TRUE(hit.entry);
  EXPECT_EQ(hit.entry->version, 3);
  EXPECT_EQ(hit.entry->user_id, 9);

  auto stale = look_up("200", older);
  EXPECT_EQ(stale.kind, Lookup::Kind::Miss);
  EXPECT_EQ(stale.generation, 200);
  EXPECT_FALSE(stale.entry);

  // a value of a generation the process has not seen yet is not served either
  EXPECT_EQ(look_up("100", current).kind, Lookup::Kind::Miss);

  auto absent = look_up("200", std::nullopt);
  EXPECT_EQ(absent.kind, Lookup::Kind::Miss);
  EXPECT_EQ(absent.generation, 200);

  EXPECT_EQ(look_up("200", std::string_view("garbage")).kind, Lookup::Kind::Miss);
}

TEST(CacheLookup, NoGenerationKeyIsAMissWhateverTheValue) {
  const auto value = cached_order_value(200, 3, 9, "{}");
  for (const auto generation :
       {std::optional<std::string_view>(), std::optional<std::string_view>(""),
        std::optional<std::string_view>("abc"), std::optional<std::string_view>("0"),
        std::optional<std::string_view>("-5")}) {
    const auto lookup = look_up(generation, value);
    EXPECT_EQ(lookup.kind, Lookup::Kind::NoGeneration) << generation.value_or("(nil)");
    EXPECT_FALSE(lookup.entry);
  }
}

TEST(CacheGenerationState, AFailedWriteBlocksReadsUntilAnAdvance) {
  CacheGeneration g;
  EXPECT_FALSE(g.must_advance());
  EXPECT_EQ(g.known(), 0);
  g.write_failed();
  g.write_failed();  // the length of an outage changes nothing: still one flag
  EXPECT_TRUE(g.must_advance());

  const auto ticket = g.begin_advance();
  ASSERT_TRUE(ticket);
  // one advance at a time per process: the others read nothing from the cache meanwhile
  EXPECT_FALSE(g.begin_advance());
  EXPECT_TRUE(g.must_advance());
  g.advanced(*ticket, 300);
  EXPECT_FALSE(g.must_advance());
  EXPECT_EQ(g.known(), 300);
}

TEST(CacheGenerationState, AFailedAdvanceLeavesReadsBlocked) {
  CacheGeneration g;
  g.write_failed();
  ASSERT_TRUE(g.begin_advance());
  g.advance_failed();
  EXPECT_TRUE(g.must_advance());
  const auto again = g.begin_advance();  // the next read tries again
  ASSERT_TRUE(again);
  g.advanced(*again, 5);
  EXPECT_FALSE(g.must_advance());
}

TEST(CacheGenerationState, AWriteThatFailsDuringAnAdvanceNeedsAnotherOne) {
  CacheGeneration g;
  g.write_failed();
  const auto ticket = g.begin_advance();
  ASSERT_TRUE(ticket);
  g.write_failed();  // its older value may sit in the new generation
  g.advanced(*ticket, 400);
  EXPECT_TRUE(g.must_advance());
  const auto next = g.begin_advance();
  ASSERT_TRUE(next);
  g.advanced(*next, 401);
  EXPECT_FALSE(g.must_advance());
  EXPECT_EQ(g.known(), 401);
}

TEST(CacheGenerationState, LearnsTheLatestGenerationSeen) {
  CacheGeneration g;
  g.learn(10);
  EXPECT_EQ(g.known(), 10);
  // a generation may go back (a failover lost the last advance): the process follows it
  g.learn(8);
  EXPECT_EQ(g.known(), 8);
}
