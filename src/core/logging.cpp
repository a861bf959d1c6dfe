#include "core/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include "domain/text.hpp"
#include "domain/utf8.hpp"

namespace os::log {
namespace {
bool g_json = true;  // set once in init() before any thread starts

// prefix + two hex digits of c ("\u001f", "\x7f").
void append_escape(std::string& out, const char* prefix, unsigned char c) {
  out += prefix;
  domain::append_hex(out, &c, 1);
}

// Log lines are valid UTF-8 whatever a client sent: ill-formed bytes become U+FFFD.
std::string_view valid_text(std::string_view s, std::string& storage) {
  if (domain::is_valid_utf8(s)) return s;
  storage = domain::utf8_with_replacement(s);
  return storage;
}

void append_json_string(std::string& out, std::string_view raw) {
  std::string storage;
  const auto s = valid_text(raw, storage);
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
          append_escape(out, "\\u00", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Text format: one line per record, so control characters are escaped, not written.
void append_text(std::string& out, std::string_view raw) {
  std::string storage;
  for (unsigned char c : valid_text(raw, storage)) {
    if (c < 0x20 || c == 0x7F) {
      append_escape(out, "\\x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
}
}  // namespace

void init(bool json, const std::string& level, const std::string& component,
          const std::string& service) {
  g_json = json;
  auto logger = spdlog::stderr_logger_mt(component);
  // The service name (APP_NAME) is text inside the pattern: JSON-escaped, '%' doubled.
  std::string name;
  if (g_json) {
    append_json_string(name, service);
  } else {
    name = service;
  }
  std::string literal;
  for (char c : name) literal += c == '%' ? std::string("%%") : std::string(1, c);
  if (g_json) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","service":)" + literal +
                            R"(,"component":"%n",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [" + literal + "/%n] %v",
                        spdlog::pattern_time_type::utc);
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
    append_text(line, message);
    for (const auto& f : fields) {
      line += ' ';
      append_text(line, f.key);
      line += '=';
      append_text(line, f.value);
    }
  }
  spdlog::log(level, "{}", line);
}

}  // namespace os::log
