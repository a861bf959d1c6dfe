// Open-loop (constant-rate) HTTP/1.1 load generator for bench/run.
//
// Request i is due at t0 + i / rate, whatever happened to the earlier ones, and its
// latency is measured from that intended time (not from when it could be sent), so a
// stalled server is charged for the requests it delayed: no coordinated omission.
// N keep-alive connections, one request in flight on each (no pipelining); a due
// request waits for the first idle connection, its clock already running.
//
// One thread, epoll, non-blocking sockets: cheap on CPU (it shares the machine with the
// server). Prints one JSON object: achieved rate, errors, latency percentiles (ms), the
// send lag (actual send - intended send: the generator's own lateness plus the wait for
// a free connection), the generator's own lateness alone, and its CPU time. Under
// overload: answers by status (2xx, 503, other), goodput (2xx answered within --timeout
// of their intended send time, per second of the run), the latency of the 2xx alone and
// how fast the 503s came (from their actual send: the server's refusal time).
//
//   loadgen --url http://127.0.0.1:28000/orders/ --rate 500 --duration 10 --connections 16
//           [--method POST] [--header 'Authorization: Bearer ...'] [--body '{...}']
//           [--drain 5] [--timeout 10]
//
// Only plain http:// to a numeric IPv4 address (bench/run talks to 127.0.0.1).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ns_t = std::int64_t;

ns_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

[[noreturn]] void fail(const std::string& msg) {
  std::fprintf(stderr, "loadgen: %s\n", msg.c_str());
  std::exit(2);
}

void usage() {
  std::fputs(
      "usage: loadgen --url http://IP:PORT/PATH --rate R --duration S [--connections N]\n"
      "               [--method M] [--header 'Name: value']... [--body TEXT]\n"
      "               [--drain S] [--timeout S]\n"
      "Open-loop: request i is due at t0 + i/R; latency from the intended time. JSON on stdout.\n",
      stderr);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 80;
  std::string path = "/";
  std::string method = "GET";
  std::vector<std::string> headers;
  std::string body;
  bool has_body = false;
  double rate = 100;
  double duration = 10;
  int connections = 16;
  double drain = 5;     // after the last due time, wait this long for answers
  double timeout = 10;  // a request without an answer after this long is an error
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value for " + a);
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    } else if (a == "--url") {
      std::string url = next();
      const std::string scheme = "http://";
      if (url.rfind(scheme, 0) != 0) fail("only http:// URLs");
      std::string rest = url.substr(scheme.size());
      auto slash = rest.find('/');
      std::string hostport = slash == std::string::npos ? rest : rest.substr(0, slash);
      o.path = slash == std::string::npos ? "/" : rest.substr(slash);
      auto colon = hostport.find(':');
      o.host = hostport.substr(0, colon);
      if (colon != std::string::npos) o.port = std::atoi(hostport.c_str() + colon + 1);
    } else if (a == "--rate") {
      o.rate = std::atof(next().c_str());
    } else if (a == "--duration") {
      o.duration = std::atof(next().c_str());
    } else if (a == "--connections" || a == "-c") {
      o.connections = std::atoi(next().c_str());
    } else if (a == "--method") {
      o.method = next();
    } else if (a == "--header" || a == "-H") {
      o.headers.push_back(next());
    } else if (a == "--body") {
      o.body = next();
      o.has_body = true;
    } else if (a == "--drain") {
      o.drain = std::atof(next().c_str());
    } else if (a == "--timeout") {
      o.timeout = std::atof(next().c_str());
    } else {
      usage();
      fail("unknown argument " + a);
    }
  }
  if (o.rate <= 0 || o.duration <= 0 || o.connections <= 0)
    fail("rate, duration, connections must be > 0");
  return o;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

// Incremental HTTP/1.1 response parser: Content-Length or chunked bodies.
struct ResponseParser {
  enum class State { head, body, chunk_size, chunk_data, chunk_crlf, trailers, done };
  State state = State::head;
  int status = 0;
  bool close = false;
  size_t remaining = 0;

  void reset() { *this = ResponseParser{}; }

  // Consumes from buf[pos..]; returns false on a malformed response.
  bool feed(const std::string& buf, size_t& pos) {
    while (pos < buf.size() && state != State::done) {
      switch (state) {
        case State::head: {
          auto end = buf.find("\r\n\r\n", pos);
          if (end == std::string::npos) return true;  // need more
          std::string_view head(buf.data() + pos, end - pos);
          pos = end + 4;
          if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return false;
          status = std::atoi(std::string(head.substr(9, 3)).c_str());
          close = head.substr(0, 8) == "HTTP/1.0";  // unless it says keep-alive
          bool chunked = false;
          size_t length = 0;
          size_t line = head.find("\r\n");
          while (line != std::string_view::npos) {
            size_t start = line + 2;
            size_t stop = head.find("\r\n", start);
            std::string_view h = head.substr(
                start, stop == std::string_view::npos ? std::string_view::npos : stop - start);
            if (iequals_prefix(h, "content-length:")) {
              length = std::strtoull(std::string(h.substr(15)).c_str(), nullptr, 10);
            } else if (iequals_prefix(h, "transfer-encoding:")) {
              chunked = std::string(h).find("chunked") != std::string::npos;
            } else if (iequals_prefix(h, "connection:")) {
              std::string v(h.substr(11));
              for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
              if (v.find("close") != std::string::npos) close = true;
              if (v.find("keep-alive") != std::string::npos) close = false;
            }
            line = stop;
          }
          if (chunked) {
            state = State::chunk_size;
          } else {
            remaining = length;
            state = remaining ? State::body : State::done;
          }
          break;
        }
        case State::body: {
          size_t take = std::min(remaining, buf.size() - pos);
          pos += take;
          remaining -= take;
          if (!remaining) state = State::done;
          break;
        }
        case State::chunk_size: {
          auto end = buf.find("\r\n", pos);
          if (end == std::string::npos) return true;
          remaining = std::strtoull(buf.substr(pos, end - pos).c_str(), nullptr, 16);
          pos = end + 2;
          state = remaining ? State::chunk_data : State::trailers;
          break;
        }
        case State::chunk_data: {
          size_t take = std::min(remaining, buf.size() - pos);
          pos += take;
          remaining -= take;
          if (!remaining) state = State::chunk_crlf;
          break;
        }
        case State::chunk_crlf: {
          if (buf.size() - pos < 2) return true;
          pos += 2;
          state = State::chunk_size;
          break;
        }
        case State::trailers: {
          auto end = buf.find("\r\n", pos);
          if (end == std::string::npos) return true;
          bool empty = end == pos;
          pos = end + 2;
          if (empty) state = State::done;
          break;
        }
        case State::done:
          break;
      }
    }
    return true;
  }
};

struct Conn {
  int fd = -1;
  bool connected = false;
  bool busy = false;
  ns_t intended = 0;  // intended send time of the request in flight
  ns_t sent_at = 0;   // actual send time
  ns_t deadline = 0;
  size_t written = 0;  // bytes of the request written so far
  std::string in;
  ResponseParser parser;
};

struct Stats {
  std::vector<ns_t> latency;          // per answered request, from the intended send time
  std::vector<ns_t> send_lag;         // actual send - intended send
  std::vector<ns_t> wake_lag;         // first seen due - intended send (the generator's own lag)
  std::vector<ns_t> ok_latency;       // 2xx only, from the intended send time
  std::vector<ns_t> refused_latency;  // 503 only, from the actual send time
  long ok = 0, non2xx = 0, socket_errors = 0, timeouts = 0, reconnects = 0;
  long status_503 = 0, good = 0;  // good: 2xx within the time-out of the intended time
  ns_t last_answer = 0;
};

class LoadGen {
 public:
  explicit LoadGen(const Options& o) : o_(o) {
    std::string req = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" +
                      std::to_string(o.port) + "\r\n";
    for (auto& h : o.headers) req += h + "\r\n";
    if (o.has_body || o.method == "POST" || o.method == "PUT" || o.method == "PATCH")
      req += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
    req += "\r\n" + o.body;
    request_ = req;
    std::memset(&addr_, 0, sizeof addr_);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr) != 1)
      fail("host must be a numeric IPv4 address");
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) fail("epoll_create1");
    conns_.resize(static_cast<size_t>(o.connections));
    total_ = static_cast<long>(std::llround(o.rate * o.duration));
    interval_ = 1e9 / o.rate;
    stats_.latency.reserve(static_cast<size_t>(total_));
    stats_.send_lag.reserve(static_cast<size_t>(total_));
    stats_.wake_lag.reserve(static_cast<size_t>(total_));
    stats_.ok_latency.reserve(static_cast<size_t>(total_));
  }

  int run() {
    for (size_t i = 0; i < conns_.size(); ++i) open(i);
    // Wait (up to 5 s) for every connection before the clock starts.
    ns_t until = now_ns() + 5'000'000'000LL;
    while (connected_count() < conns_.size() && now_ns() < until) poll(10'000'000);
    if (connected_count() == 0)
      fail("could not connect to " + o_.host + ":" + std::to_string(o_.port));

    t0_ = now_ns();
    const ns_t end_due = t0_ + static_cast<ns_t>(o_.duration * 1e9);
    const ns_t hard_end = end_due + static_cast<ns_t>(o_.drain * 1e9);
    for (;;) {
      ns_t now = now_ns();
      long due = std::min(total_, static_cast<long>((now - t0_) / interval_) + 1);
      // The generator's own lateness: how long after its intended time the loop first
      // saw each request due (CPU starvation, wake-up latency), before any wait for a
      // free connection.
      for (; noticed_ < due; ++noticed_)
        stats_.wake_lag.push_back(now - t0_ - static_cast<ns_t>(noticed_ * interval_));
      // Send every due request that has an idle connection.
      while (sent_ < due && !idle_.empty()) {
        size_t i = idle_.back();
        idle_.pop_back();
        send(i, t0_ + static_cast<ns_t>(sent_ * interval_), now);
        ++sent_;
      }
      if (now >= hard_end) break;
      if (sent_ >= total_ && in_flight_ == 0) break;
      // Requests without an answer for too long: count, and reopen the connection.
      if (now >= next_timeout_check_) {
        next_timeout_check_ = now + 100'000'000;
        for (size_t i = 0; i < conns_.size(); ++i) {
          if (conns_[i].busy && now > conns_[i].deadline) {
            ++stats_.timeouts;
            drop(i, false);
          }
        }
      }
      // Sleep until the next due request, an answer, or the drain deadline.
      ns_t wait;
      if (sent_ < due) {
        wait = 100'000'000;  // all connections busy: wake on an answer
      } else if (sent_ < total_) {
        wait = t0_ + static_cast<ns_t>(sent_ * interval_) - now;
      } else {
        wait = std::min<ns_t>(hard_end - now, 100'000'000);
      }
      poll(std::max<ns_t>(wait, 0));
    }
    report();
    return 0;
  }

 private:
  size_t connected_count() const {
    size_t n = 0;
    for (auto& c : conns_) n += c.connected;
    return n;
  }

  void open(size_t i) {
    Conn& c = conns_[i];
    c = Conn{};
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) fail("socket");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(c.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_);
    if (r < 0 && errno != EINPROGRESS) fail(std::string("connect: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  // Closes connection i (an error, a timeout or Connection: close) and opens a new one.
  void drop(size_t i, bool count_error) {
    Conn& c = conns_[i];
    if (c.busy) {
      --in_flight_;
      if (count_error) ++stats_.socket_errors;
    }
    if (!c.busy && c.connected)
      idle_.erase(std::remove(idle_.begin(), idle_.end(), i), idle_.end());
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    ++stats_.reconnects;
    open(i);
  }

  void send(size_t i, ns_t intended, ns_t now) {
    Conn& c = conns_[i];
    c.busy = true;
    c.intended = intended;
    c.sent_at = now;
    c.deadline = now + static_cast<ns_t>(o_.timeout * 1e9);
    c.written = 0;
    c.parser.reset();
    ++in_flight_;
    stats_.send_lag.push_back(now - intended);
    write_some(i);
  }

  void write_some(size_t i) {
    Conn& c = conns_[i];
    while (c.written < request_.size()) {
      ssize_t n =
          ::send(c.fd, request_.data() + c.written, request_.size() - c.written, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;  // EPOLLOUT will resume
      } else {
        drop(i, true);
        return;
      }
    }
  }

  void on_readable(size_t i) {
    Conn& c = conns_[i];
    char buf[16384];
    for (;;) {
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf) break;
      } else if (n == 0) {
        drop(i, c.busy);
        return;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        drop(i, c.busy);
        return;
      }
    }
    if (!c.busy) {  // bytes nobody asked for
      c.in.clear();
      return;
    }
    size_t pos = 0;
    if (!c.parser.feed(c.in, pos)) {
      drop(i, true);
      return;
    }
    c.in.erase(0, pos);
    if (c.parser.state != ResponseParser::State::done) return;
    ns_t now = now_ns();
    stats_.latency.push_back(now - c.intended);
    stats_.last_answer = now;
    if (c.parser.status >= 200 && c.parser.status < 300) {
      ++stats_.ok;
      stats_.ok_latency.push_back(now - c.intended);
      if (now - c.intended <= static_cast<ns_t>(o_.timeout * 1e9)) ++stats_.good;
    } else {
      ++stats_.non2xx;
      if (c.parser.status == 503) {
        ++stats_.status_503;
        stats_.refused_latency.push_back(now - c.sent_at);
      }
    }
    c.busy = false;
    --in_flight_;
    if (c.parser.close) {
      drop(i, false);
      return;
    }
    idle_.push_back(i);
  }

  void poll(ns_t wait_ns) {
    epoll_event events[256];
    timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000LL),
                static_cast<long>(wait_ns % 1'000'000'000LL)};
    int n = epoll_pwait2(ep_, events, 256, &ts, nullptr);
    if (n < 0) {
      if (errno == EINTR) return;
      fail("epoll_pwait2");
    }
    for (int k = 0; k < n; ++k) {
      size_t i = events[k].data.u64;
      Conn& c = conns_[i];
      uint32_t e = events[k].events;
      if (!c.connected && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (e & (EPOLLERR | EPOLLHUP))) {
          ++stats_.socket_errors;
          epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
          close(c.fd);
          c.fd = -1;
          continue;  // left closed: the run goes on with fewer connections
        }
        c.connected = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = i;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
        idle_.push_back(i);
        continue;
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        on_readable(i);
      } else if ((e & EPOLLOUT) && c.busy) {
        write_some(i);
      }
    }
  }

  static double pct(std::vector<ns_t>& v, double p) {
    if (v.empty()) return 0;
    size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    k = std::clamp<size_t>(k, 1, v.size()) - 1;
    return static_cast<double>(v[k]) / 1e6;
  }

  void report() {
    auto& l = stats_.latency;
    auto& s = stats_.send_lag;
    std::sort(l.begin(), l.end());
    std::sort(s.begin(), s.end());
    auto& g = stats_.wake_lag;
    std::sort(g.begin(), g.end());
    auto& okl = stats_.ok_latency;
    std::sort(okl.begin(), okl.end());
    auto& rl = stats_.refused_latency;
    std::sort(rl.begin(), rl.end());
    double mean = 0;
    for (auto x : l) mean += static_cast<double>(x);
    mean = l.empty() ? 0 : mean / static_cast<double>(l.size()) / 1e6;
    // Achieved rate: answers over the time from the first due request to the last answer
    // (at least the planned duration).
    double elapsed = std::max(o_.duration, static_cast<double>(stats_.last_answer - t0_) / 1e9);
    long answered = stats_.ok + stats_.non2xx;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::printf(
        "{\"target_rate\": %.1f, \"achieved_rate\": %.1f, \"duration_s\": %.2f, \"connections\": "
        "%d, "
        "\"scheduled\": %ld, \"sent\": %ld, \"answered\": %ld, \"ok\": %ld, \"non2xx\": %ld, "
        "\"socket_errors\": %ld, \"timeouts\": %ld, \"unanswered\": %ld, \"reconnects\": %ld, "
        "\"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": "
        "%.3f, \"mean\": %.3f}, "
        "\"send_lag_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
        "\"generator_lag_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}, \"cpu_s\": %.2f, "
        "\"status_503\": %ld, \"good\": %ld, \"goodput\": %.1f, "
        "\"ok_latency_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
        "\"refused_latency_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}}\n",
        o_.rate, static_cast<double>(answered) / elapsed, elapsed, o_.connections, total_, sent_,
        answered, stats_.ok, stats_.non2xx, stats_.socket_errors, stats_.timeouts,
        total_ - answered, stats_.reconnects, pct(l, 0.50), pct(l, 0.90), pct(l, 0.99),
        pct(l, 0.999), l.empty() ? 0.0 : static_cast<double>(l.back()) / 1e6, mean, pct(s, 0.50),
        pct(s, 0.99), s.empty() ? 0.0 : static_cast<double>(s.back()) / 1e6, pct(g, 0.50),
        pct(g, 0.99), g.empty() ? 0.0 : static_cast<double>(g.back()) / 1e6, cpu, stats_.status_503,
        stats_.good, static_cast<double>(stats_.good) / o_.duration, pct(okl, 0.50), pct(okl, 0.99),
        okl.empty() ? 0.0 : static_cast<double>(okl.back()) / 1e6, pct(rl, 0.50), pct(rl, 0.99),
        rl.empty() ? 0.0 : static_cast<double>(rl.back()) / 1e6);
  }

  Options o_;
  std::string request_;
  sockaddr_in addr_{};
  int ep_ = -1;
  std::vector<Conn> conns_;
  std::vector<size_t> idle_;
  long total_ = 0, sent_ = 0, noticed_ = 0, in_flight_ = 0;
  double interval_ = 0;
  ns_t t0_ = 0, next_timeout_check_ = 0;
  Stats stats_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake up on time (default slack: 50 us)
  return LoadGen(o).run();
}
