#include "amqp/socket_watchdog.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace os::amqp {

SocketWatchdog::SocketWatchdog() : thread_([this] { run(); }) {}

SocketWatchdog::~SocketWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void SocketWatchdog::watch(int fd) {
  const int copy = fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = copy;
  armed_ = false;
  expired_ = false;
}

void SocketWatchdog::forget() {
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  armed_ = false;
}

void SocketWatchdog::arm(Millis budget) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    deadline_ = Clock::now() + budget;
    armed_ = true;
    expired_ = false;
    // A thread asleep until an earlier time wakes by itself and sees this deadline; only
    // an idle thread, or one asleep past it, needs a notification (so a busy publisher
    // costs a lock, and a wake-up at most once per budget).
    wake = deadline_ < sleeps_until_;
  }
  if (wake) cv_.notify_one();
}

bool SocketWatchdog::disarm() {
  std::lock_guard lock(mutex_);
  armed_ = false;
  return expired_;
}

bool SocketWatchdog::expired() const {
  std::lock_guard lock(mutex_);
  return expired_;
}

void SocketWatchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!armed_) {
      sleeps_until_ = Clock::time_point::max();
      cv_.wait(lock);
      continue;
    }
    if (Clock::now() < deadline_) {
      sleeps_until_ = deadline_;
      cv_.wait_until(lock, sleeps_until_);  // then re-read: disarmed, or armed anew
      continue;
    }
    // Still armed past the deadline: the call overran. Under the lock, so a disarm()
    // that returned before this point is never followed by a shutdown.
    ::shutdown(fd_, SHUT_RDWR);
    expired_ = true;
    armed_ = false;
  }
}

}  // namespace os::amqp
