#include "core/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace os::log {
namespace {
bool g_json = true;  // set once in init() before any thread starts

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}
}  // namespace

void init(const std::string& format, const std::string& level, const std::string& component) {
  g_json = format == "json";
  auto logger = spdlog::stderr_logger_mt(component);
  if (g_json) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","component":"%n",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void write(spdlog::level::level_enum level, std::string_view message, Fields fields) {
  if (!spdlog::should_log(level)) return;
  std::string line;
  line.reserve(128);
  if (g_json) {
    line += R"("msg":)";
    append_json_string(line, message);
    for (const auto& f : fields) {
      line += ',';
      append_json_string(line, f.key);
      line += ':';
      if (f.quoted) {
        append_json_string(line, f.value);
      } else {
        line += f.value;
      }
    }
  } else {
    line += message;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      line += f.value;
    }
  }
  spdlog::log(level, "{}", line);
}

}  // namespace os::log
