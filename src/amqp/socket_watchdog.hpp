// A deadline for blocking calls into a library that waits on a socket with no deadline of
// its own (rabbitmq-c's writes: see AmqpConnection). A small thread per watchdog; armed
// before a call and disarmed after it. When a call overruns its budget the thread shuts the
// socket down (shutdown(2), both directions): a send() or recv() blocked on it, or a
// poll() waiting for it, returns at once with an error, and the caller reports the timeout.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/async.hpp"

namespace os::amqp {

class SocketWatchdog {
 public:
  SocketWatchdog();
  ~SocketWatchdog();
  SocketWatchdog(const SocketWatchdog&) = delete;
  SocketWatchdog& operator=(const SocketWatchdog&) = delete;

  // The socket to guard (a descriptor of the caller's): the watchdog keeps its own
  // duplicate, so it never shuts down a descriptor number that the caller closed and the
  // process reused for another connection.
  void watch(int fd);
  // Closes the watchdog's duplicate (e.g. after the caller closed its own descriptor, so
  // that the connection really ends). Disarms.
  void forget();
  // From now on, at most `budget` until disarm(); then the socket is shut down. No-op
  // without a watched socket.
  void arm(Millis budget);
  // Ends the deadline; true if it had run out (the socket was shut down).
  bool disarm();
  // Whether the last armed deadline ran out (until the next arm()).
  bool expired() const;

  // Arms for the scope: `bool expired()` tells afterwards whether the budget ran out.
  class Scope {
   public:
    Scope(SocketWatchdog& w, Millis budget) : w_(w) { w_.arm(budget); }
    ~Scope() { w_.disarm(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    bool expired() const { return w_.expired(); }

   private:
    SocketWatchdog& w_;
  };

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int fd_ = -1;  // our duplicate
  bool armed_ = false;
  bool expired_ = false;
  // Until when the thread sleeps (max: idle): an arm() with an earlier deadline wakes it.
  Clock::time_point sleeps_until_ = Clock::time_point::max();
  bool stopping_ = false;
  Clock::time_point deadline_{};
  std::thread thread_;
};

}  // namespace os::amqp
