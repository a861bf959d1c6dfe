// RESP encoding of commands, and the replies that mean "this node is a replica now".
#include <gtest/gtest.h>

#include "redis/connection.hpp"

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

TEST(RedisEncoding, ReadonlyErrorsAreRecognised) {
  RedisReply r;
  r.type = RedisReply::Type::Error;
  r.str = "READONLY You can't write against a read only replica.";
  EXPECT_TRUE(is_readonly_error(r));
  r.str = "ERR wrong number of arguments";
  EXPECT_FALSE(is_readonly_error(r));
  r.type = RedisReply::Type::Status;
  r.str = "READONLY";
  EXPECT_FALSE(is_readonly_error(r));
}
