// The one loop every background duty runs in (relay, consumer, task worker, reconciler,
// the api's user-deletion listener): run a pass; when it throws, classify the failure by
// its type (core/failure.hpp: never by message text, and an exception without a message
// is still a failure), log the change of state once, let the duty drop what broke, and
// back off with jitter before the next pass. A pass that succeeds resets the backoff and
// marks the dependencies it proves up again.
//
// Stopping is Asio cancellation: the role co_spawns the duty bound to a StopSignal's
// slot, and stop() emits it. Whatever the duty is waiting for (a timer, a socket, a
// query) is cancelled at once; a pass interrupted that way is not a failure, and the
// loop returns without another pass.
#pragma once
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/async.hpp"
#include "core/dependency_health.hpp"
#include "core/failure.hpp"
#include "core/sleep.hpp"

namespace os {

// True once the calling coroutine's stop was requested (its cancellation slot fired).
awaitable<bool> stop_requested();

struct RetryPolicy {
  Millis base{200};
  Millis cap{2000};
};

struct DutyLoop {
  std::string duty;                                     // "relay": in every log line
  std::function<awaitable<void>()> pass;                // one round of work; throws
  std::function<void(const Failure&)> on_failure = {};  // drop what broke
  RetryPolicy retry = {};
  // The dependencies a successful pass shows to be up; empty: all of them. (A worker's
  // pass only reads the task queue; its tasks report on PostgreSQL themselves.)
  std::vector<Dependency> proves = {};
  // Waits between failed passes. Tests give a fake clock; the default is a timer, which
  // the stop cancels.
  std::function<awaitable<void>(Millis)> pause = sleep_for;
};

// Runs `loop` until stopped. Logs "<duty> stopped" when it returns.
awaitable<void> supervise(DutyLoop loop, DependencyHealth& health);

// A duty's stop request. Emitted on the duty's own executor, as Asio requires.
class StopSignal {
 public:
  // The completion token for co_spawn: binds the duty to this signal's slot.
  template <typename Handler>
  auto bind(Handler handler) {
    return asio::bind_cancellation_slot(signal_.slot(), std::move(handler));
  }
  // Thread-safe: posts the emission to `executor`, the one the duty runs on.
  template <typename Executor>
  void request(const Executor& executor) {
    asio::post(executor, [this] { signal_.emit(asio::cancellation_type::terminal); });
  }

 private:
  asio::cancellation_signal signal_;
};

}  // namespace os
