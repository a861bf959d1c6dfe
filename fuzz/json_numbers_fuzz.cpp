// domain::parse_json_keeping_numbers (every JSON body: orders, status, register): must
// accept exactly what boost::json::parse accepts, give the same document, and keep for
// every number in it a source text that denotes that number. (Documents are compared
// serialized: boost::json turns 0e400 into NaN, which is not equal to itself.)
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

#include "domain/json_numbers.hpp"
#include "fuzz_common.hpp"

namespace json = boost::json;
using namespace os::domain;

namespace {
void check_numbers(const json::value& v, JsonPath& path, const ParsedJson& doc,
                   std::string_view input) {
  if (v.is_object()) {
    for (const auto& [key, child] : v.as_object()) {
      path.emplace_back(json::string(key));
      check_numbers(child, path, doc, input);
      path.pop_back();
    }
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      path.emplace_back(static_cast<std::int64_t>(i));
      check_numbers(a[i], path, doc, input);
      path.pop_back();
    }
  } else if (v.is_number()) {
    const auto text = doc.number_text(path);
    FUZZ_CHECK(!text.empty(),
               "no number text for " + json::serialize(v) + " in " + fuzz::printable(input));
    // The text is the number as written: a piece of the input, that parses to the same
    // number (integers exactly; doubles within an ulp or two: boost::json 1.81's default
    // number parsing is not correctly rounded and differs by context).
    FUZZ_CHECK(input.find(text) != std::string_view::npos,
               "number text " + fuzz::printable(text) + " not in " + fuzz::printable(input));
    boost::system::error_code ec;
    const auto again = json::parse(text, ec);
    FUZZ_CHECK(!ec && again.is_number() && again.kind() == v.kind(),
               "number text " + fuzz::printable(text) + " is not " + json::serialize(v));
    if (v.is_double()) {
      const double a = again.as_double(), b = v.as_double();
      const bool same = (std::isnan(a) && std::isnan(b)) || a == b ||
                        std::fabs(a - b) <= 4e-16 * std::max(std::fabs(a), std::fabs(b));
      FUZZ_CHECK(same, "number text " + fuzz::printable(text) + " is not " + json::serialize(v));
    } else {
      FUZZ_CHECK(again == v,
                 "number text " + fuzz::printable(text) + " is not " + json::serialize(v));
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  constexpr int kDepth = 32;
  ParsedJson doc;
  boost::system::error_code ec;
  const bool ok = parse_json_keeping_numbers(text, kDepth, doc, ec);
  json::parse_options options;
  options.max_depth = kDepth;
  boost::system::error_code ref_ec;
  const auto ref = json::parse(text, ref_ec, {}, options);
  FUZZ_CHECK(ok == !ref_ec, std::string(ok ? "accepted" : "refused") + " unlike boost::json (" +
                                ref_ec.message() + "): " + fuzz::printable(text));
  FUZZ_CHECK(ok == !ec, "return value and ec disagree: " + fuzz::printable(text));
  if (!ok) return 0;
  FUZZ_CHECK(json::serialize(doc.value) ==
                 json::serialize(ref),  // NaN-safe "document differs: " +
                                        // json::serialize(doc.value) + " vs boost::json " +
             json::serialize(ref) + " from " + fuzz::printable(text));
  JsonPath path;
  check_numbers(doc.value, path, doc, text);
  return 0;
}
