// Prometheus metrics: counters, gauges and latency histograms, rendered as text.
// Thread-safe; the lock is held for a map lookup and an add.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace os {

class Metrics {
 public:
  enum class Type { Counter, Gauge, Histogram };

  // Registers a family; `help` appears in the exposition.
  void describe(std::string name, Type type, std::string help);

  // `labels` is the inside of {…}, e.g. R"(route="/orders/{order_id}",status="200")".
  void add(std::string_view name, std::string_view labels, double delta = 1);
  void set(std::string_view name, std::string_view labels, double value);
  void observe(std::string_view name, std::string_view labels, double seconds);

  // Gauges computed when scraped (queue depths, backlog).
  void on_scrape(std::function<void(Metrics&)> collector);

  std::string render();

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::Counter;
    std::string help;
    std::map<std::string, double, std::less<>> values;
    std::map<std::string, Histogram, std::less<>> histograms;
  };
  Family& family(std::string_view name);

  std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void(Metrics&)>> collectors_;
};

// Quotes a label value for the exposition format.
std::string label(std::string_view key, std::string_view value);

}  // namespace os
