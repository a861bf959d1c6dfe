#include "core/metrics.hpp"

#include <charconv>

namespace os {
namespace {
// Shortest text that reads back as the same double (0.0005, not 0.00050000000000000001).
std::string number(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : "0";
}
}  // namespace

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
  std::lock_guard lock(mutex_);
  auto& values = family(name).values;
  auto it = values.find(labels);
  if (it == values.end()) it = values.emplace(std::string(labels), 0.0).first;
  it->second += delta;
}

void Metrics::set(std::string_view name, std::string_view labels, double value) {
  std::lock_guard lock(mutex_);
  auto& values = family(name).values;
  auto it = values.find(labels);
  if (it == values.end()) it = values.emplace(std::string(labels), 0.0).first;
  it->second = value;
}

void Metrics::observe(std::string_view name, std::string_view labels, double seconds) {
  std::lock_guard lock(mutex_);
  auto& histograms = family(name).histograms;
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
  std::string out;
  for (const auto& [name, f] : families_) {
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
