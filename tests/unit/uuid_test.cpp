#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "domain/uuid.hpp"

using namespace os::domain;

namespace {
bool lower_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}
}  // namespace

TEST(Uuid, V7IsCanonicalVersion7) {
  const auto id = uuid_v7();
  EXPECT_TRUE(is_uuid(id));
  EXPECT_EQ(id[14], '7');
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
}

TEST(RandomHex, LengthAndAlphabet) {
  for (std::size_t n : {1U, 8U, 16U, 17U}) {
    EXPECT_EQ(random_hex(n).size(), 2 * n);
    EXPECT_TRUE(lower_hex(random_hex(n)));
    EXPECT_EQ(correlation_hex(n).size(), 2 * n);
    EXPECT_TRUE(lower_hex(correlation_hex(n)));
  }
  EXPECT_EQ(correlation_hex(0), "");
}

TEST(CorrelationHex, DistinctWithinAndAcrossThreads) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(correlation_hex(8));
  EXPECT_EQ(seen.size(), 10000U);
  // Each thread seeds its own generator from the CSPRNG: no two threads repeat a sequence.
  std::vector<std::string> firsts(8);
  std::vector<std::thread> threads;
  for (auto& f : firsts) threads.emplace_back([&f] { f = correlation_hex(16); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(firsts.begin(), firsts.end()).size(), firsts.size());
}
