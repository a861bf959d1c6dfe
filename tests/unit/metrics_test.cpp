// Metrics: per-thread counters merged at scrape, bounded label sets.
#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using os::Metrics;

TEST(Metrics, CountersFromManyThreadsAddUp) {
  Metrics m;
  m.describe("hits_total", Metrics::Type::Counter, "Hits.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) m.add("hits_total", os::label("kind", "a"));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_NE(m.render().find("hits_total{kind=\"a\"} 4000\n"), std::string::npos) << m.render();
}

TEST(Metrics, HistogramsMergeAcrossThreads) {
  Metrics m;
  m.describe("latency_seconds", Metrics::Type::Histogram, "Latency.");
  std::thread a([&m] { m.observe("latency_seconds", "", 0.0001); });
  std::thread b([&m] { m.observe("latency_seconds", "", 3.0); });
  a.join();
  b.join();
  const auto text = m.render();
  EXPECT_NE(text.find("latency_seconds_count 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"5e-04\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos) << text;
}

TEST(Metrics, InstancesDoNotShareShards) {
  for (int round = 0; round < 3; ++round) {  // a new instance may reuse the old address
    Metrics m;
    m.add("n_total", "");
    EXPECT_NE(m.render().find("n_total 1\n"), std::string::npos) << round;
  }
}

TEST(Metrics, MethodLabelIsAClosedSet) {
  EXPECT_EQ(os::method_label("GET"), "GET");
  EXPECT_EQ(os::method_label("PATCH"), "PATCH");
  EXPECT_EQ(os::method_label("FOO"), "OTHER");
  EXPECT_EQ(os::method_label("get"), "OTHER");
  EXPECT_EQ(os::method_label(std::string(5000, 'X')), "OTHER");
}
