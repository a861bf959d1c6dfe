#include "http/form.hpp"

#include <optional>

#include "domain/text.hpp"
#include "domain/utf8.hpp"

namespace os::http {
namespace {

void append_latin1(std::string& out, unsigned char c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

std::string decode_form_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // A run of %XX escapes is one byte string, decoded as UTF-8 as a whole.
    std::string bytes;
    while (i + 2 < text.size() && text[i] == '%') {
      const auto high = domain::hex_value(text[i + 1]);
      const auto low = domain::hex_value(text[i + 2]);
      if (!high || !low) break;
      bytes += static_cast<char>((*high << 4) | *low);
      i += 3;
    }
    if (!bytes.empty()) {
      out += domain::utf8_with_replacement(bytes);
      continue;
    }
    const auto c = static_cast<unsigned char>(text[i++]);
    append_latin1(out, c == '+' ? ' ' : c);
  }
  return out;
}

FormFields parse_form(std::string_view text, FormSyntax syntax) {
  FormFields out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = start;
    while (end < text.size() && text[end] != '&' &&
           !(syntax == FormSyntax::Form && text[end] == ';')) {
      ++end;
    }
    const auto field = text.substr(start, end - start);
    if (!field.empty()) {
      const auto eq = field.find('=');
      out.emplace_back(decode_form_component(field.substr(0, eq)),
                       eq == std::string_view::npos ? std::string()
                                                    : decode_form_component(field.substr(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace os::http
