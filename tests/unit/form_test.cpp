// Form and query decoding as python-multipart / parse_qsl do, always valid UTF-8.
#include "http/form.hpp"

#include <gtest/gtest.h>

#include "domain/utf8.hpp"
#include "domain/validation.hpp"

using namespace os::domain;
using os::http::decode_form_component;
using os::http::FormSyntax;
using os::http::parse_form;

namespace {
Validated<Credentials> parse_token_form(std::string_view body) {
  return parse_token_fields(parse_form(body));
}
}  // namespace

TEST(Form, RawSpacesPlusAndEscapes) {
  const auto f = parse_form("username=ada@example.com&password=correct horse+battery%20staple");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].second, "correct horse battery staple");
}

TEST(Form, EmptyValuesRepeatedKeysAndSeparators) {
  const auto f = parse_form("a=&b&&c=1;c=2");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], (std::pair<std::string, std::string>{"a", ""}));
  EXPECT_EQ(f[1], (std::pair<std::string, std::string>{"b", ""}));
  EXPECT_EQ(f[3].second, "2");
  EXPECT_EQ(parse_form("c=1;c=2", FormSyntax::Query).size(), 1u);  // ';' is data in a query
}

TEST(Form, InvalidUtf8AndMalformedEscapesNeverFail) {
  EXPECT_EQ(decode_form_component("%FF"), "\xEF\xBF\xBD");
  EXPECT_EQ(decode_form_component("%C3%A9"), "\xC3\xA9");  // é
  EXPECT_EQ(decode_form_component("%zz%4"), "%zz%4");
  EXPECT_EQ(decode_form_component("\xE9"), "\xC3\xA9");  // a raw Latin-1 byte
  for (const char* t : {"%FF%FE", "%ED%A0%80", "%F4%90%80%80", "\x80\xFF", "%C0%AF"}) {
    EXPECT_TRUE(is_valid_utf8(decode_form_component(t))) << t;
  }
}

TEST(Form, TokenFormWithInvalidUtf8IsAnOrdinaryLogin) {
  const auto r = parse_token_form("username=%FF&password=x");
  ASSERT_TRUE(std::holds_alternative<Credentials>(r));
  EXPECT_TRUE(is_valid_utf8(std::get<Credentials>(r).email));
}

TEST(Utf8, Validity) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));   // emoji
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_TRUE(is_visible_ascii("key-1 ok"));
  EXPECT_FALSE(is_visible_ascii("\xFF"));
  EXPECT_FALSE(is_visible_ascii("a\nb"));
}

TEST(Form, TokenUsernameWithNulIsRefused) {  // libpq would cut the text at the NUL
  const auto r = parse_token_form("username=ada%40example.com%00junk&password=x");
  ASSERT_TRUE(std::holds_alternative<Violations>(r));
  const auto& violation = std::get<Violations>(r)[0];
  EXPECT_EQ(violation.path, FieldPath{"username"});
  EXPECT_EQ(violation.problem, Problem::ContainsNul);
}
