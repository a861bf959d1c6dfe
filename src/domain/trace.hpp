// W3C Trace Context (`traceparent: 00-<trace-id>-<parent-id>-<flags>`): accepted at the
// HTTP edge or started there, then carried with the order's event and task so that
// every log line of every hop names the same trace_id.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace os::domain {

struct TraceContext {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string span_id;   // 16 lower-case hex digits, not all zero
};

// nullopt for anything that is not a valid version-00 traceparent (then a new trace
// is started: a malformed header is ignored, as the W3C spec says).
std::optional<TraceContext> parse_traceparent(std::string_view header);
// A new trace, or a new span in `trace_id`'s trace.
TraceContext new_trace();
TraceContext child_span(std::string_view trace_id);
std::string format_traceparent(std::string_view trace_id, std::string_view span_id);
inline std::string format_traceparent(const TraceContext& context) {
  return format_traceparent(context.trace_id, context.span_id);
}

}  // namespace os::domain
