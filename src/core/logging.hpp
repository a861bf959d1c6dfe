// Structured logging: JSON lines (default) or key=value text, on top of spdlog.
#pragma once
#include <spdlog/spdlog.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace os::log {

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v) : key(k), value(std::to_string(v)), quoted(false) {}
  std::string_view key;
  std::string value;
  bool quoted = true;
};
using Fields = std::initializer_list<Field>;

// JSON lines or text; level: spdlog names plus "warning"; every line names the service
// (APP_NAME) and the component (the role).
void init(bool json, const std::string& level, const std::string& component,
          const std::string& service);

void write(spdlog::level::level_enum level, std::string_view message, Fields fields);

inline void debug(std::string_view m, Fields f = {}) {
  write(spdlog::level::debug, m, f);
}
inline void info(std::string_view m, Fields f = {}) {
  write(spdlog::level::info, m, f);
}
inline void warn(std::string_view m, Fields f = {}) {
  write(spdlog::level::warn, m, f);
}
inline void error(std::string_view m, Fields f = {}) {
  write(spdlog::level::err, m, f);
}

inline bool enabled(spdlog::level::level_enum level) {
  return spdlog::should_log(level);
}

}  // namespace os::log
