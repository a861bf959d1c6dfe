// application/x-www-form-urlencoded bodies and query strings, decoded the way the
// original's stack does (python-multipart for forms, urllib's parse_qsl for queries):
// '+' and raw spaces are spaces, %XX escapes are bytes decoded as UTF-8 with invalid
// sequences replaced by U+FFFD, a malformed escape stays literal, raw bytes >= 0x80 are
// Latin-1 characters. So decoding never fails and the result is always valid UTF-8 —
// nothing a client sends can put invalid UTF-8 into the database or a log line.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace os::http {
using FormFields = std::vector<std::pair<std::string, std::string>>;

enum class FormSyntax {
  Form,   // fields separated by '&' or ';' (python-multipart)
  Query,  // fields separated by '&' only (parse_qsl)
};

// Fields in order; a field without '=' has an empty value; empty fields are skipped.
// Callers take the last value of a repeated key, as Starlette does.
FormFields parse_form(std::string_view text, FormSyntax syntax = FormSyntax::Form);

// One component: '+' → space, %XX → bytes, then UTF-8 with replacement (see above).
std::string decode_form_component(std::string_view text);
}  // namespace os::http
