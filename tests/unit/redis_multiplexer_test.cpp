// RedisMultiplexer deadlines against a Redis that accepts and never answers (as a frozen,
// SIGSTOPped one does): the commands waiting on the connection fail at the earliest
// deadline among them, also when the caller with the shorter timeout came second, and
// not much later. (Replies from a real Redis: tests/functional.)
#include "redis/multiplexer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using os::Clock;
using os::Millis;

namespace {

struct Outcome {
  std::optional<std::string> error;  // RedisUnavailable's text; empty optional: replies came
  Clock::duration after{};
};

os::awaitable<void> call(os::redis::RedisMultiplexer& mux, Millis timeout, Outcome& out) {
  const auto start = Clock::now();
  const std::vector<os::redis::Command> ping{os::redis::cmd("PING")};  // named: GCC 12
  try {
    co_await mux.pipeline(ping, timeout);
  } catch (const os::redis::RedisUnavailable& e) {
    out.error = e.what();
  }
  out.after = Clock::now() - start;
}

}  // namespace

TEST(RedisMultiplexer, ASilentRedisFailsEveryWaiterAtTheEarliestDeadline) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket silent(io);  // accepted, never read from or written to
  acceptor.async_accept(silent, [](boost::system::error_code) {});
  os::config::RedisEndpoint endpoint;
  endpoint.port = acceptor.local_endpoint().port();
  os::redis::RedisMultiplexer mux(io.get_executor(), endpoint, Millis(1000));

  Outcome patient, hurried;
  asio::co_spawn(io, call(mux, Millis(5000), patient), asio::detached);
  asio::co_spawn(io, call(mux, Millis(100), hurried), asio::detached);
  io.run();

  ASSERT_TRUE(hurried.error.has_value());
  EXPECT_NE(hurried.error->find("did not answer in time"), std::string::npos) << *hurried.error;
  EXPECT_GE(hurried.after, Millis(100));
  EXPECT_LT(hurried.after, Millis(1500));  // at its own deadline, not the first caller's
  // The connection is broken for everyone: a later reply could not be matched any more.
  ASSERT_TRUE(patient.error.has_value());
  EXPECT_LT(patient.after, Millis(2500));
}
