// RESP encoding of commands, the replies that mean "this node is a replica now", and
// scripts called by their SHA1.
#include <gtest/gtest.h>

#include "redis/connection.hpp"
#include "redis/script.hpp"

using namespace os::redis;

TEST(RedisEncoding, CommandsAreArraysOfBulkStrings) {
  std::string out;
  encode_command(out, cmd("SET", "k", std::string("a\r\nb", 4)));
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
  encode_command(out, cmd("PING"));
  EXPECT_EQ(out.substr(out.size() - 14), "*1\r\n$4\r\nPING\r\n");
  std::string empty;
  encode_command(empty, cmd(""));
  EXPECT_EQ(empty, "*1\r\n$0\r\n\r\n");
}

// The replies that mean "this node is a replica now" (READONLY) and "this Redis does not
// have the script" (NOSCRIPT): error replies with that code, nothing else.
TEST(RedisEncoding, ErrorCodesAreRecognised) {
  const struct {
    const char* code;
    const char* message;
    bool (*recognised)(const RedisReply&);
  } cases[] = {
      {"READONLY", "READONLY You can't write against a read only replica.", is_readonly_error},
      {"NOSCRIPT", "NOSCRIPT No matching script. Please use EVAL.",
       [](const RedisReply& r) { return r.is_error_code("NOSCRIPT"); }},
  };
  for (const auto& c : cases) {
    RedisReply r;
    r.type = RedisReply::Type::Error;
    r.str = c.message;
    EXPECT_TRUE(c.recognised(r)) << c.code;
    r.str = "ERR wrong number of arguments";
    EXPECT_FALSE(c.recognised(r)) << c.code;
    r.str = c.code;
    for (const auto type : {RedisReply::Type::Status, RedisReply::Type::String}) {
      r.type = type;
      EXPECT_FALSE(c.recognised(r)) << c.code;
    }
  }
}

TEST(RedisScript, NamedBySha1OfItsBody) {
  // Redis's own name for `return 1` (SCRIPT LOAD "return 1").
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}
