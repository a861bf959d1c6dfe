// Shared helpers for the libFuzzer harnesses in fuzz/ (see scripts/fuzz --help).
//
// FUZZ_CHECK(cond, detail) aborts with a message when an invariant fails, so libFuzzer
// records the input as a crash. Checks come in two strengths:
//  - always: what the code claims today (bounds, round trips, no UB, no leak);
//  - strict(): the input rules of issue 8 (text reaching PostgreSQL/Redis/logs is valid
//    UTF-8 without NUL, money exact, cursor timestamps PostgreSQL accepts, client
//    addresses are IPs). On by default; FUZZ_LENIENT=1 (scripts/fuzz --lenient) turns
//    them off, and makes harnesses skip inputs that reach a known open defect (one with
//    a reproducer in fuzz/regressions/), so that it does not stop the search for others.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fuzz {

inline bool strict() {
  static const bool value = [] {
    const char* v = std::getenv("FUZZ_LENIENT");
    return v == nullptr || *v == '\0' || *v == '0';
  }();
  return value;
}

[[noreturn]] inline void fail(const char* file, int line, const char* cond,
                              std::string_view detail) {
  std::fprintf(stderr, "\nFUZZ INVARIANT FAILED at %s:%d: %s\n  %.*s\n", file, line, cond,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline std::string printable(std::string_view s, std::size_t max = 200) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// Strict UTF-8 (no overlongs, no surrogates, max U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else
      return false;
    if (i + static_cast<std::size_t>(len) > n) return false;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += static_cast<std::size_t>(len);
  }
  return true;
}

// Text PostgreSQL can store in a text column / libpq can pass as a C string.
inline bool db_safe_text(std::string_view s) {
  return valid_utf8(s) && s.find('\0') == std::string_view::npos;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fuzz

#define FUZZ_CHECK(cond, detail)                                    \
  do {                                                              \
    if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)
