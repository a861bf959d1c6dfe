// JSON parsing that keeps the source text of every number, so that money can be judged
// exactly from what the client wrote (a double would turn 1000.001 into 1000.0 and
// 1e-9 into something no longer "more than 2 decimals").
#pragma once
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace os::domain {

// The path of a value inside a document: object keys and array indices from the root.
using JsonPath = std::vector<boost::json::value>;  // each a string key or an int64 index

struct ParsedJson {
  boost::json::value value;
  std::map<std::string, std::string> number_texts;  // encoded path -> number text
  // The source text of the number at `path`, or "" if there is none.
  std::string number_text(const JsonPath& path) const;
};

// Parses `text` as one JSON document (depth limited to max_depth). On error returns false
// and sets `ec`. Duplicate keys: the last one wins, for the value and its number text.
bool parse_json_keeping_numbers(std::string_view text, int max_depth, ParsedJson& out,
                                boost::system::error_code& ec);

}  // namespace os::domain
