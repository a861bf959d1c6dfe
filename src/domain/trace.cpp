#include "domain/trace.hpp"

#include "domain/uuid.hpp"

namespace os::domain {
namespace {
bool lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
bool all_zero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}
}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view h) {
  // 00-<32>-<16>-<2>: 55 characters
  if (h.size() != 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const auto version = h.substr(0, 2), trace = h.substr(3, 32), span = h.substr(36, 16),
             flags = h.substr(53, 2);
  if (version != "00" || !lower_hex(trace) || !lower_hex(span) || !lower_hex(flags) ||
      all_zero(trace) || all_zero(span)) {
    return std::nullopt;
  }
  return TraceContext{std::string(trace), std::string(span)};
}

TraceContext new_trace() {
  return {correlation_hex(16), correlation_hex(8)};
}

TraceContext child_span(std::string_view trace_id) {
  return {std::string(trace_id), correlation_hex(8)};
}

std::string format_traceparent(std::string_view trace_id, std::string_view span_id) {
  std::string out;
  out.reserve(8 + trace_id.size() + span_id.size());
  out.append("00-").append(trace_id).append("-").append(span_id).append("-01");
  return out;
}

}  // namespace os::domain
