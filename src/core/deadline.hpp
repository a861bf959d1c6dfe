// Runs `on_expire` if the scope is still alive after `timeout`: how the clients bound a
// socket operation. The callback cancels (or closes) the socket and the one coroutine
// awaiting it sees the error; no second coroutine is involved. (core/timeout.hpp's
// with_timeout races two awaitables instead, for a call that owns no socket.)
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>

#include "core/async.hpp"

namespace os {

class Deadline {
 public:
  template <typename Executor>
  Deadline(const Executor& ex, Millis timeout, std::function<void()> on_expire)
      : timer_(ex, timeout), state_(std::make_shared<State>()) {
    timer_.async_wait([state = state_, fn = std::move(on_expire)](boost::system::error_code ec) {
      if (ec || !state->active) return;
      state->expired = true;
      fn();
    });
  }
  ~Deadline() {
    state_->active = false;
    timer_.cancel();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool expired() const { return state_->expired; }

 private:
  struct State {
    bool active = true;
    bool expired = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace os
