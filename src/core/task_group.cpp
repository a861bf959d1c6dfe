#include "core/task_group.hpp"

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/failure.hpp"
#include "core/logging.hpp"

namespace os {

void TaskGroup::spawn(awaitable<void> task) {
  ++running_;
  auto signal = signals_.emplace(signals_.end());
  asio::co_spawn(executor_, std::move(task),
                 asio::bind_cancellation_slot(signal->slot(), [this, signal](std::exception_ptr e) {
                   if (e) log::error("a task of a group failed", {{"error", classify(e).reason}});
                   signals_.erase(signal);
                   ended();
                 }));
}

void TaskGroup::ended() {
  --running_;
  for (auto* waiter : waiters_) waiter->cancel();
}

void TaskGroup::emit(asio::cancellation_type type) {
  for (auto& signal : signals_) signal.emit(type);
}

awaitable<void> TaskGroup::wait_for_one_to_end(Clock::time_point until) {
  asio::steady_timer timer(executor_, until);
  waiters_.push_back(&timer);
  boost::system::error_code ec;  // cancelled: a task ended, or the caller's stop
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &timer));
}

awaitable<bool> TaskGroup::wait_for_all(Clock::time_point until) {
  while (running_ > 0 && Clock::now() < until) {
    const auto before = running_;
    co_await wait_for_one_to_end(until);
    const auto state = co_await asio::this_coro::cancellation_state;
    if (running_ == before && state.cancelled() != asio::cancellation_type::none) break;
  }
  co_return running_ == 0;
}

awaitable<void> TaskGroup::join() {
  while (running_ > 0) {
    co_await wait_for_one_to_end(Clock::now() + std::chrono::hours(24));
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      emit();
      break;
    }
  }
  while (running_ > 0) co_await wait_for_one_to_end(Clock::now() + std::chrono::milliseconds(100));
}

}  // namespace os
