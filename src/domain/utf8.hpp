// UTF-8 checks for text that reaches PostgreSQL, Redis or a log line.
#pragma once
#include <string>
#include <string_view>

namespace os::domain {

// Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `bytes` decoded as UTF-8, each ill-formed sequence replaced by U+FFFD (as Python's
// errors="replace" does).
std::string utf8_with_replacement(std::string_view bytes);

// Header values that may be stored or logged: printable ASCII and spaces only (RFC 9110
// field values; obs-text is refused).
bool is_visible_ascii(std::string_view text);

}  // namespace os::domain
