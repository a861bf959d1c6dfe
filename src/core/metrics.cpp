#include "core/metrics.hpp"

#include <atomic>
#include <charconv>

namespace os {
namespace {
// Shortest text that reads back as the same double (0.0005, not 0.00050000000000000001).
std::string number(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : "0";
}
std::atomic<std::uint64_t> g_next_id{1};

template <typename Fn>
void with_entry(std::map<std::string, double, std::less<>>& values, std::string_view labels,
                Fn&& fn) {
  auto it = values.find(labels);
  if (it == values.end()) it = values.emplace(std::string(labels), 0.0).first;
  fn(it->second);
}
}  // namespace

std::string_view method_label(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                                "DELETE", "OPTIONS", "TRACE", "CONNECT"};
  for (auto known : kKnown) {
    if (method == known) return known;
  }
  return "OTHER";
}

Metrics::Metrics() : id_(g_next_id.fetch_add(1)) {}
Metrics::~Metrics() = default;

Metrics::Shard& Metrics::local_shard() {
  // Per thread: (instance id, shard) of the instances this thread has used.
  thread_local std::vector<std::pair<std::uint64_t, Shard*>> cache;
  for (const auto& [id, shard] : cache) {
    if (id == id_) return *shard;
  }
  std::lock_guard lock(mutex_);
  shards_.push_back(std::make_unique<Shard>());
  cache.emplace_back(id_, shards_.back().get());
  return *shards_.back();
}

std::string label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

Metrics::Family& Metrics::family(std::string_view name) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  return it->second;
}

void Metrics::describe(std::string name, Type type, std::string help) {
  std::lock_guard lock(mutex_);
  auto& f = family(name);
  f.type = type;
  f.help = std::move(help);
}

void Metrics::add(std::string_view name, std::string_view labels, double delta) {
  auto& shard = local_shard();
  std::lock_guard lock(shard.mutex);  // uncontended but for a scrape
  auto it = shard.families.find(name);
  if (it == shard.families.end()) it = shard.families.emplace(std::string(name), Family{}).first;
  with_entry(it->second.values, labels, [delta](double& v) { v += delta; });
}

void Metrics::set(std::string_view name, std::string_view labels, double value) {
  std::lock_guard lock(mutex_);
  with_entry(family(name).values, labels, [value](double& v) { v = value; });
}

void Metrics::observe(std::string_view name, std::string_view labels, double seconds) {
  auto& shard = local_shard();
  std::lock_guard lock(shard.mutex);
  auto fit = shard.families.find(name);
  if (fit == shard.families.end()) {
    fit = shard.families.emplace(std::string(name), Family{}).first;
  }
  auto& histograms = fit->second.histograms;
  auto it = histograms.find(labels);
  if (it == histograms.end()) it = histograms.emplace(std::string(labels), Histogram{}).first;
  auto& h = it->second;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::on_scrape(std::function<void(Metrics&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);

  std::lock_guard lock(mutex_);
  // Gauges and descriptions, plus every thread's counters and histograms added up.
  auto merged = families_;
  for (const auto& shard : shards_) {
    std::lock_guard shard_lock(shard->mutex);
    for (const auto& [name, f] : shard->families) {
      auto& into = merged[name];
      for (const auto& [labels, v] : f.values) into.values[labels] += v;
      for (const auto& [labels, h] : f.histograms) {
        auto& sum = into.histograms[labels];
        for (std::size_t i = 0; i < kBuckets.size(); ++i) sum.buckets[i] += h.buckets[i];
        sum.count += h.count;
        sum.sum += h.sum;
      }
    }
  }
  std::string out;
  for (const auto& [name, f] : merged) {
    static constexpr const char* kTypes[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + kTypes[static_cast<int>(f.type)] + "\n";
    for (const auto& [labels, v] : f.values) {
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(v) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      const std::string sep = labels.empty() ? "" : labels + ",";
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        out += name + "_bucket{" + sep + "le=\"" + number(kBuckets[i]) + "\"} " +
               std::to_string(h.buckets[i]) + "\n";
      }
      out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out +=
          name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " + number(h.sum) + "\n";
      out += name + "_count" + (labels.empty() ? "" : "{" + labels + "}") + " " +
             std::to_string(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace os
