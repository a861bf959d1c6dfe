// Prometheus metrics: counters, gauges and latency histograms, rendered as text.
// Counters and histograms are kept per thread (each thread has its own shard, whose lock
// only a scrape ever contends), merged when rendered: no lock shared by the request path.
// Gauges are set by background duties and kept in one place. Label values must come
// from closed sets (route templates, method_label(), status codes), so the number of
// series is bounded whatever the traffic.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

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
  // The calling thread's counters and histograms.
  struct Shard {
    std::mutex mutex;
    std::map<std::string, Family, std::less<>> families;
  };
  Shard& local_shard();

  const std::uint64_t id_;  // tells instances apart in the per-thread shard cache
  std::mutex mutex_;        // families_ (gauges, descriptions), shards_, collectors_
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::function<void(Metrics&)>> collectors_;
};

// The HTTP method as a label value: the standard methods as they are, anything else
// "OTHER" (a client choosing method names must not create series).
std::string_view method_label(std::string_view method);

// Quotes a label value for the exposition format.
std::string label(std::string_view key, std::string_view value);

}  // namespace os
