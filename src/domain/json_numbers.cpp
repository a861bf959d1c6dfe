#include "domain/json_numbers.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace os::domain {
namespace json = boost::json;
namespace {

// One path element, length-prefixed so that no key can pass for another path.
// Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive, GCC bug 105329)
// on `"i" + std::to_string(i)`.
std::string encode_key(std::string_view key) {
  std::string out = "k";
  out += std::to_string(key.size());
  out += ':';
  out += key;
  return out;
}
std::string encode_index(std::int64_t i) {
  std::string out = "i";
  out += std::to_string(i);
  out += ';';
  return out;
}

// json::parser's own handler (a value_stack), plus the path of the value being parsed.
class ValueBuilder {
 public:
  constexpr static std::size_t max_object_size = std::size_t(-1);
  constexpr static std::size_t max_array_size = std::size_t(-1);
  constexpr static std::size_t max_key_size = std::size_t(-1);
  constexpr static std::size_t max_string_size = std::size_t(-1);

  explicit ValueBuilder(ParsedJson& out) : out_(out) {}

  json::value_stack stack;

  bool on_document_begin(json::error_code&) {
    stack.reset();
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return open(false); }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return close();
  }
  bool on_object_begin(json::error_code&) { return open(true); }
  bool on_object_end(std::size_t n, json::error_code&) {
    stack.push_object(n);
    return close();
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return leave();
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    stack.push_key(s);
    key_.append(s.data(), s.size());
    frames_.back().key = std::move(key_);
    key_.clear();
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t v, json::string_view s, json::error_code&) {
    number(s);
    stack.push_int64(v);
    return leave();
  }
  bool on_uint64(std::uint64_t v, json::string_view s, json::error_code&) {
    number(s);
    stack.push_uint64(v);
    return leave();
  }
  bool on_double(double v, json::string_view s, json::error_code&) {
    number(s);
    stack.push_double(v);
    return leave();
  }
  bool on_bool(bool v, json::error_code&) {
    stack.push_bool(v);
    return leave();
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return leave();
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    bool object;
    std::string key;     // objects: the current key
    std::int64_t index;  // arrays: the current index
  };

  std::string path() const {
    std::string p;
    for (const auto& f : frames_) p += f.object ? encode_key(f.key) : encode_index(f.index);
    return p;
  }
  bool open(bool object) {
    frames_.push_back({object, "", 0});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return leave();
  }
  // A value ended: the enclosing array moves to its next index.
  bool leave() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  void number(json::string_view last_part) {
    number_.append(last_part.data(), last_part.size());
    out_.number_texts[path()] = std::move(number_);
    number_.clear();
  }

  ParsedJson& out_;
  std::vector<Frame> frames_;
  std::string key_;
  std::string number_;
};

}  // namespace

std::string ParsedJson::number_text(const JsonPath& path) const {
  std::string key;
  for (const auto& e : path) {
    key += e.is_string() ? encode_key(e.as_string()) : encode_index(e.to_number<std::int64_t>());
  }
  const auto it = number_texts.find(key);
  return it == number_texts.end() ? std::string{} : it->second;
}

bool parse_json_keeping_numbers(std::string_view text, int max_depth, ParsedJson& out,
                                boost::system::error_code& ec) {
  json::parse_options options;
  options.max_depth = static_cast<std::size_t>(max_depth);
  json::basic_parser<ValueBuilder> parser(options, out);
  const auto n = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return false;
  out.value = parser.handler().stack.release();
  return true;
}

}  // namespace os::domain
