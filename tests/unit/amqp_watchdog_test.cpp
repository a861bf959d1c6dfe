// The write watchdog of the RabbitMQ client: a call blocked on a socket the peer stopped
// reading fails once its budget has run out (the socket is shut down); a call that ends in
// time is never cut. Then AmqpConnection (real rabbitmq-c) against a scripted fake broker:
// a publish into a broker that stops reading throws within RABBITMQ_TIMEOUT_SECONDS, the
// login announces the connection.blocked capability, and connection.blocked /
// connection.unblocked are tracked.
#include <amqp.h>
#include <amqp_framing.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "amqp/client.hpp"
#include "amqp/socket_watchdog.hpp"

using os::Clock;
using os::Millis;
using os::amqp::SocketWatchdog;

namespace {

Millis since(Clock::time_point start) {
  return std::chrono::duration_cast<Millis>(Clock::now() - start);
}

// A connected pair; `a` non-blocking with its buffers filled (the peer reads nothing).
struct FullPair {
  int a = -1;
  int b = -1;
  FullPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    a = fds[0];
    b = fds[1];
    std::vector<char> chunk(65536, 'x');
    while (::send(a, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
    }
    EXPECT_EQ(errno, EAGAIN);
  }
  ~FullPair() {
    ::close(a);
    ::close(b);
  }
};

// What rabbitmq-c does with a write that would block: poll for POLLOUT with no deadline,
// then send. Returns send()'s result (-1 with errno set on failure).
ssize_t blocking_write(int fd) {
  pollfd p{fd, POLLOUT, 0};
  ::poll(&p, 1, -1);
  const char byte = 'y';
  return ::send(fd, &byte, 1, MSG_NOSIGNAL);
}

TEST(SocketWatchdog, AWriteBlockedPastItsBudgetFails) {
  FullPair pair;
  SocketWatchdog watchdog;
  watchdog.watch(pair.a);
  const auto start = Clock::now();
  watchdog.arm(Millis(200));
  const auto rc = blocking_write(pair.a);
  const int error = errno;
  const auto took = since(start);
  EXPECT_TRUE(watchdog.disarm());
  EXPECT_TRUE(watchdog.expired());
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(error, EPIPE);
  EXPECT_GE(took.count(), 190);
  EXPECT_LT(took.count(), 2000);
}

TEST(SocketWatchdog, ACallThatEndsInTimeIsNeverCut) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  SocketWatchdog watchdog;
  watchdog.watch(fds[0]);
  for (int i = 0; i < 1000; ++i) {  // many short calls: arm and disarm are cheap
    watchdog.arm(Millis(100));
    EXPECT_FALSE(watchdog.disarm());
  }
  std::this_thread::sleep_for(Millis(300));  // well past the last budget
  EXPECT_FALSE(watchdog.expired());
  EXPECT_EQ(::send(fds[0], "z", 1, MSG_NOSIGNAL), 1);
  char c = 0;
  EXPECT_EQ(::recv(fds[1], &c, 1, 0), 1);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(SocketWatchdog, AShorterBudgetAfterALongOneStillFiresOnTime) {
  FullPair pair;
  SocketWatchdog watchdog;
  watchdog.watch(pair.a);
  watchdog.arm(Millis(60000));  // the thread now sleeps for a minute
  std::this_thread::sleep_for(Millis(50));
  EXPECT_FALSE(watchdog.disarm());
  const auto start = Clock::now();
  watchdog.arm(Millis(150));
  blocking_write(pair.a);
  EXPECT_TRUE(watchdog.disarm());
  EXPECT_LT(since(start).count(), 2000);
}

TEST(SocketWatchdog, NeverTouchesADescriptorNumberTheCallerClosed) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  SocketWatchdog watchdog;
  watchdog.watch(fds[0]);
  const int number = fds[0];
  ::close(fds[0]);  // the library closed its socket; the number is reused at once
  int other[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
  ASSERT_TRUE(other[0] == number || other[1] == number);
  watchdog.arm(Millis(20));
  std::this_thread::sleep_for(Millis(200));
  EXPECT_TRUE(watchdog.disarm());  // it fired, on its own duplicate of the old socket
  EXPECT_EQ(::send(other[0], "z", 1, MSG_NOSIGNAL), 1);  // the new socket is untouched
  char c = 0;
  EXPECT_EQ(::recv(other[1], &c, 1, 0), 1);
  ::close(other[0]);
  ::close(other[1]);
  ::close(fds[1]);
}

// ------------------------------------------------------------ a scripted fake broker

// Speaks just enough AMQP 0-9-1 for AmqpConnection: the handshake, channel 1, confirm.select
// and the close handshake; encodes and decodes with rabbitmq-c's own codec.
class FakeBroker {
 public:
  enum class Mode { Answer, StopReading };

  explicit FakeBroker(Mode mode) : mode_(mode) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;  // inherited by the accepted socket: its buffer fills fast
    ::setsockopt(listener_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeBroker() {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    cv_.notify_all();
    ::shutdown(listener_, SHUT_RDWR);
    if (client_ >= 0) ::shutdown(client_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
    if (client_ >= 0) ::close(client_);
  }

  os::config::RabbitSettings settings(Millis timeout) const {
    os::config::RabbitSettings s;
    s.hosts = {os::config::HostPort{"127.0.0.1", port_}};
    s.timeout = timeout;
    s.heartbeat = Millis(0);
    return s;
  }
  bool announced_connection_blocked() const { return announced_blocked_; }
  int publishes() const { return publishes_; }

  // Sends a method frame from the test's thread.
  void send(std::uint16_t channel, amqp_method_number_t id, void* method) {
    std::lock_guard lock(send_mutex_);
    char payload[4096];
    const int n = amqp_encode_method(id, method, amqp_bytes_t{sizeof payload, payload});
    ASSERT_GE(n, 0);
    std::string frame;
    frame.push_back(static_cast<char>(AMQP_FRAME_METHOD));
    put16(frame, channel);
    put32(frame, static_cast<std::uint32_t>(n + 4));
    put32(frame, id);
    frame.append(payload, static_cast<std::size_t>(n));
    frame.push_back(static_cast<char>(AMQP_FRAME_END));
    ::send(client_, frame.data(), frame.size(), MSG_NOSIGNAL);
  }

 private:
  struct Frame {
    int type = 0;
    std::uint16_t channel = 0;
    amqp_method_number_t method = 0;
    std::string args;  // a method's arguments
  };

  static void put16(std::string& s, std::uint32_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v));
  }
  static void put32(std::string& s, std::uint32_t v) {
    put16(s, v >> 16);
    put16(s, v & 0xffff);
  }
  bool read_exact(char* out, std::size_t n) {
    while (n > 0) {
      const auto r = ::recv(client_, out, n, 0);
      if (r <= 0) return false;
      out += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  std::optional<Frame> read_frame() {
    unsigned char head[7];
    if (!read_exact(reinterpret_cast<char*>(head), 7)) return std::nullopt;
    Frame f;
    f.type = head[0];
    f.channel = static_cast<std::uint16_t>(head[1] << 8 | head[2]);
    const std::uint32_t size =
        static_cast<std::uint32_t>(head[3]) << 24 | head[4] << 16 | head[5] << 8 | head[6];
    std::string body(size + 1, '\0');
    if (!read_exact(body.data(), body.size())) return std::nullopt;
    if (f.type == AMQP_FRAME_METHOD && size >= 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(body.data());
      f.method = static_cast<amqp_method_number_t>(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3];
      f.args = body.substr(4, size - 4);
    }
    return f;
  }
  std::optional<Frame> read_method() {
    for (;;) {
      auto f = read_frame();
      if (!f || f->type == AMQP_FRAME_METHOD) return f;
      if (f->type == AMQP_FRAME_HEADER && f->channel == 1) ++publishes_;
    }
  }
  void check_start_ok(const Frame& f) {
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    void* decoded = nullptr;
    std::string args = f.args;
    if (amqp_decode_method(f.method, &pool, amqp_bytes_t{args.size(), args.data()}, &decoded) ==
        0) {
      const auto* ok = static_cast<amqp_connection_start_ok_t*>(decoded);
      for (int i = 0; i < ok->client_properties.num_entries; ++i) {
        const auto& e = ok->client_properties.entries[i];
        if (std::string(static_cast<char*>(e.key.bytes), e.key.len) != "capabilities") continue;
        for (int j = 0; j < e.value.value.table.num_entries; ++j) {
          const auto& c = e.value.value.table.entries[j];
          if (std::string(static_cast<char*>(c.key.bytes), c.key.len) == "connection.blocked" &&
              c.value.kind == AMQP_FIELD_KIND_BOOLEAN && c.value.value.boolean) {
            announced_blocked_ = true;
          }
        }
      }
    }
    empty_amqp_pool(&pool);
  }

  void serve() {
    client_ = ::accept(listener_, nullptr, nullptr);
    if (client_ < 0) return;
    char header[8];
    if (!read_exact(header, 8)) return;
    amqp_connection_start_t start{};
    start.version_major = 0;
    start.version_minor = 9;
    start.server_properties = amqp_empty_table;
    start.mechanisms = amqp_cstring_bytes("PLAIN");
    start.locales = amqp_cstring_bytes("en_US");
    send(0, AMQP_CONNECTION_START_METHOD, &start);
    auto f = read_method();
    if (!f) return;
    check_start_ok(*f);
    amqp_connection_tune_t tune{2047, 131072, 0};
    send(0, AMQP_CONNECTION_TUNE_METHOD, &tune);
    read_method();  // tune-ok
    read_method();  // connection.open
    amqp_connection_open_ok_t open_ok{amqp_empty_bytes};
    send(0, AMQP_CONNECTION_OPEN_OK_METHOD, &open_ok);
    read_method();  // channel.open
    amqp_channel_open_ok_t channel_ok{amqp_empty_bytes};
    send(1, AMQP_CHANNEL_OPEN_OK_METHOD, &channel_ok);
    while (auto m = read_method()) {
      if (m->method == AMQP_CONFIRM_SELECT_METHOD) {
        amqp_confirm_select_ok_t ok{};
        send(1, AMQP_CONFIRM_SELECT_OK_METHOD, &ok);
        if (mode_ == Mode::StopReading) break;
      } else if (m->method == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok{};
        send(1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      } else if (m->method == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_ok_t ok{};
        send(0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      } else if (m->method == AMQP_BASIC_PUBLISH_METHOD) {
        ++publishes_;
      }
    }
    // StopReading: like a broker under a memory alarm (or frozen), read nothing more.
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return finished_; });
  }

  Mode mode_;
  int listener_ = -1;
  int client_ = -1;
  int port_ = 0;
  std::atomic<bool> announced_blocked_{false};
  std::atomic<int> publishes_{0};
  std::mutex send_mutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::thread thread_;
};

os::amqp::OutgoingMessage big_message() {
  return {"", "q", std::string(1 << 20, 'x'), "id", "new_order", 0, std::nullopt};
}

TEST(AmqpConnection, LoginAnnouncesTheConnectionBlockedCapability) {
  FakeBroker broker(FakeBroker::Mode::Answer);
  {
    os::amqp::AmqpConnection connection(broker.settings(Millis(2000)));
    EXPECT_FALSE(connection.blocked());
  }
  EXPECT_TRUE(broker.announced_connection_blocked());
}

TEST(AmqpConnection, APublishIntoABrokerThatStopsReadingFailsWithinTheTimeout) {
  FakeBroker broker(FakeBroker::Mode::StopReading);
  const Millis timeout(500);
  std::optional<os::amqp::AmqpConnection> connection(std::in_place, broker.settings(timeout));
  const auto start = Clock::now();
  std::string error;
  auto last_publish = Clock::now();
  try {
    for (int i = 0; i < 256; ++i) {  // 256 MiB: far more than the socket buffers hold
      last_publish = Clock::now();
      connection->publish_unconfirmed(big_message());
    }
  } catch (const os::amqp::AmqpError& e) {
    error = e.what();
  }
  const auto blocked_for = since(last_publish);
  ASSERT_FALSE(error.empty()) << "256 MiB published into a broker that reads nothing";
  EXPECT_NE(error.find("RabbitMQ"), std::string::npos) << error;
  EXPECT_NE(error.find("RABBITMQ_TIMEOUT_SECONDS"), std::string::npos) << error;
  EXPECT_NE(error.find("0.5 s"), std::string::npos) << error;
  // The blocked publish lasted its budget (timeout + the rpc slack), not longer.
  EXPECT_GE(blocked_for.count(), 400);
  EXPECT_LT(blocked_for.count(), 2000);
  // A broken connection closes without the (unanswered) close handshake.
  const auto closing = Clock::now();
  connection.reset();
  EXPECT_LT(since(closing).count(), 200);
  EXPECT_LT(since(start).count(), 5000);
}

TEST(AmqpConnection, TracksConnectionBlockedAndUnblocked) {
  FakeBroker broker(FakeBroker::Mode::Answer);
  os::amqp::AmqpConnection connection(broker.settings(Millis(2000)));
  connection.keep_alive();
  EXPECT_FALSE(connection.blocked());
  amqp_connection_blocked_t blocked{amqp_cstring_bytes("low on memory")};
  broker.send(0, AMQP_CONNECTION_BLOCKED_METHOD, &blocked);
  const auto deadline = Clock::now() + Millis(2000);
  while (!connection.blocked() && Clock::now() < deadline) {
    connection.take_settled(Millis(50));
  }
  EXPECT_TRUE(connection.blocked());
  EXPECT_EQ(connection.blocked_reason(), "low on memory");
  // publish_confirmed writes nothing into a blocked connection.
  try {
    connection.publish_confirmed({big_message()});
    ADD_FAILURE() << "published while blocked";
  } catch (const os::amqp::AmqpError& e) {
    EXPECT_NE(std::string(e.what()).find("blocks publishing (low on memory)"), std::string::npos)
        << e.what();
  }
  amqp_connection_unblocked_t unblocked{};
  broker.send(0, AMQP_CONNECTION_UNBLOCKED_METHOD, &unblocked);
  while (connection.blocked() && Clock::now() < deadline + Millis(2000)) {
    connection.take_settled(Millis(50));
  }
  EXPECT_FALSE(connection.blocked());
  EXPECT_EQ(broker.publishes(), 0);
}

TEST(AmqpConnection, ABlockedConnectionClosesWithoutTheHandshake) {
  FakeBroker broker(FakeBroker::Mode::StopReading);
  std::optional<os::amqp::AmqpConnection> connection(std::in_place, broker.settings(Millis(3000)));
  connection->publish_unconfirmed(
      {"", "q", "small", "id", "new_order", 0, std::nullopt});  // confirm.select, then silence
  amqp_connection_blocked_t blocked{amqp_cstring_bytes("low on memory")};
  broker.send(0, AMQP_CONNECTION_BLOCKED_METHOD, &blocked);
  const auto deadline = Clock::now() + Millis(2000);
  while (!connection->blocked() && Clock::now() < deadline) connection->keep_alive();
  ASSERT_TRUE(connection->blocked());
  const auto closing = Clock::now();
  connection.reset();  // a handshake would wait for an answer that never comes
  EXPECT_LT(since(closing).count(), 200);
}

TEST(AmqpConnection, AHealthyButSilentBrokerGetsAShortCloseHandshake) {
  FakeBroker broker(FakeBroker::Mode::StopReading);
  std::optional<os::amqp::AmqpConnection> connection(std::in_place, broker.settings(Millis(5000)));
  connection->publish_unconfirmed({"", "q", "small", "id", "new_order", 0, std::nullopt});
  const auto closing = Clock::now();
  connection.reset();
  // Not the 2 x 5 s of the two close rpcs: the close handshake has a budget of 1 s.
  EXPECT_LT(since(closing).count(), 2500);
}

}  // namespace
