#include "core/supervisor.hpp"

#include <boost/asio/this_coro.hpp>

#include "core/capture.hpp"
#include "core/logging.hpp"

namespace os {

awaitable<bool> stop_requested() {
  const auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

awaitable<void> supervise(DutyLoop loop, DependencyHealth& health) {
  // A stopped duty still finishes what it is doing (e.g. the relay settles its confirms)
  // instead of throwing at its next co_await.
  co_await asio::this_coro::throw_if_cancelled(false);
  Backoff backoff(loop.retry.base, loop.retry.cap);
  std::string logged_failure;  // the last non-transient failure logged, until a success
  while (!co_await stop_requested()) {
    const auto error = co_await capture(loop.pass());
    if (co_await stop_requested()) break;  // the stop interrupted the pass
    if (!error) {
      backoff.reset();
      if (loop.proves.empty()) health.all_up();
      for (const auto& dependency : loop.proves) health.up(dependency);
      if (!logged_failure.empty()) {
        log::info("duty working again", {{"duty", loop.duty}});
        logged_failure.clear();
      }
      continue;
    }
    const auto failure = classify(error);
    if (failure.kind == FailureKind::Transient) {
      health.down(failure);
    } else if (failure.reason != logged_failure) {
      log::error("duty failed; retrying", {{"duty", loop.duty}, {"error", failure.reason}});
      logged_failure = failure.reason;
    }
    if (loop.on_failure) loop.on_failure(failure);
    if (co_await stop_requested()) break;
    co_await loop.pause(backoff.next());
  }
  log::info(loop.duty + " stopped");
}

}  // namespace os
