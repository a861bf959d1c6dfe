// write_now: sends what the socket takes at once, never blocks on a full send buffer, and
// what it could not send goes out later, in order, after the bytes it did send.
#include "core/write_now.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Pair {
  asio::io_context io;
  tcp::socket writer{io};
  tcp::socket reader{io};

  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    reader = acceptor.accept();
    writer.non_blocking(true);
  }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST(WriteNow, SendsASmallMessageWhole) {
  Pair p;
  const std::string message = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
  boost::system::error_code ec;
  EXPECT_EQ(os::write_now(p.writer, asio::buffer(message), ec), message.size());
  EXPECT_FALSE(ec);
  std::string got(message.size(), '\0');
  asio::read(p.reader, asio::buffer(got));
  EXPECT_EQ(got, message);
}

TEST(WriteNow, StopsAtAFullSendBufferWithoutBlockingAndTheRestFollowsInOrder) {
  Pair p;
  // Far more than loopback's send and receive buffers hold while nobody reads.
  const auto message = pattern(64 * 1024 * 1024);
  boost::system::error_code ec;
  const auto written = os::write_now(p.writer, asio::buffer(message), ec);
  EXPECT_FALSE(ec) << ec.message();  // a full buffer is not a failure
  EXPECT_GT(written, 0u);
  EXPECT_LT(written, message.size());
  // Nothing more fits until the peer reads: a second call writes nothing and returns.
  EXPECT_EQ(os::write_now(p.writer, asio::buffer(message) + written, ec), 0u);
  EXPECT_FALSE(ec);

  asio::async_write(p.writer, asio::buffer(message) + written,
                    [](boost::system::error_code e, std::size_t) { EXPECT_FALSE(e); });
  std::string got(message.size(), '\0');
  asio::async_read(p.reader, asio::buffer(got),
                   [](boost::system::error_code e, std::size_t) { EXPECT_FALSE(e); });
  p.io.run();
  EXPECT_TRUE(got == message);
}

TEST(WriteNow, ReportsAPeerThatIsGone) {
  Pair p;
  p.reader.set_option(asio::socket_base::linger(true, 0));
  p.reader.close();  // a reset
  const auto message = pattern(1024 * 1024);
  boost::system::error_code ec;
  for (int i = 0; i < 100 && !ec; ++i) os::write_now(p.writer, asio::buffer(message), ec);
  EXPECT_TRUE(ec);  // connection reset or broken pipe, and no SIGPIPE
}
