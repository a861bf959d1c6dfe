#include "tasks/worker.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "core/supervisor.hpp"
#include "domain/clock.hpp"

namespace os::tasks {
namespace {
constexpr Millis kReadBlock{1000};
constexpr auto kGaugesEvery = std::chrono::seconds(5);
constexpr Millis kRetryBase{1000};
constexpr Millis kUnknownRetryCap{60'000};
}  // namespace

awaitable<void> Worker::execute(Task task) {
  const auto wait_ms = task.not_before_ms - domain::unix_ms();
  if (wait_ms > 0) co_await sleep_for(Millis(wait_ms));
  // Cancelled (the grace ran out): leave it pending for another worker.
  if (co_await stop_requested()) co_return;
  std::exception_ptr error;
  try {
    if (task.name != "process_order") {
      throw PermanentFailure("unknown task '" + task.name + "'");
    }
    if (task.order_id.empty()) throw PermanentFailure("task without an order_id");
    co_await processor_.run(task);
  } catch (...) {
    error = std::current_exception();
  }
  if (co_await stop_requested()) co_return;
  try {
    co_await settle(task, error);
  } catch (...) {
    // Not acked: it stays pending and is reclaimed after the visibility timeout.
    health_.down(classify(std::current_exception()));
  }
}

awaitable<void> Worker::settle(const Task& task, std::exception_ptr error) {
  if (!error) {
    co_await queue_.ack(task);
    health_.all_up();
    metrics_.add("tasks_total", label("result", "done"));
    co_return;
  }
  const auto failure = classify(error);
  switch (failure.kind) {
    case FailureKind::Transient: {
      health_.down(failure);
      const auto delay = capped_backoff(task.deferrals, kRetryBase, settings_.retry_max_backoff);
      co_await queue_.defer(task, delay, failure.reason);
      metrics_.add("tasks_total", label("result", "deferred"));
      co_return;
    }
    case FailureKind::Permanent:
      log::error("task can never succeed; dead-lettered",
                 {{"order_id", task.order_id}, {"task", task.name}, {"reason", failure.reason}});
      co_await queue_.dead_letter(task, failure.reason);
      metrics_.add("tasks_total", label("result", "dead_lettered"));
      co_return;
    case FailureKind::Unknown:
      if (task.attempt + 1 < settings_.max_attempts) {
        log::warn(
            "task failed; will retry",
            {{"order_id", task.order_id}, {"attempt", task.attempt}, {"error", failure.reason}});
        co_await queue_.retry(task, capped_backoff(task.attempt, kRetryBase, kUnknownRetryCap),
                              failure.reason);
        metrics_.add("tasks_total", label("result", "retried"));
      } else {
        log::error(
            "task failed for the last time; dead-lettered",
            {{"order_id", task.order_id}, {"attempt", task.attempt}, {"reason", failure.reason}});
        co_await queue_.dead_letter(task, failure.reason);
        metrics_.add("tasks_total", label("result", "dead_lettered"));
      }
      co_return;
  }
}

void Worker::start(Task task) {
  ++running_;
  auto signal = cancel_signals_.emplace(cancel_signals_.end());
  asio::co_spawn(queue_executor_, execute(std::move(task)),
                 asio::bind_cancellation_slot(signal->slot(), [this, signal](std::exception_ptr) {
                   cancel_signals_.erase(signal);
                   --running_;
                   if (task_end_waiter_ != nullptr) task_end_waiter_->cancel();
                 }));
}

awaitable<void> Worker::wait_for_task_end(Clock::time_point until) {
  asio::steady_timer timer(co_await asio::this_coro::executor, until);
  task_end_waiter_ = &timer;
  boost::system::error_code ec;  // cancelled: a task ended, or the stop
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  task_end_waiter_ = nullptr;
}

awaitable<void> Worker::pass() {
  while (running_ >= settings_.concurrency && !co_await stop_requested()) {
    co_await wait_for_task_end(Clock::now() + std::chrono::hours(1));
  }
  if (co_await stop_requested()) co_return;
  if (!group_ready_) co_await queue_.ensure_group();
  group_ready_ = true;
  if (Clock::now() - last_reclaim_ > settings_.visibility_timeout / 2) {
    last_reclaim_ = Clock::now();
    for (auto& task : co_await queue_.reclaim(name_, settings_.concurrency - running_)) {
      log::warn("reclaimed a task left by a stopped worker",
                {{"order_id", task.order_id}, {"entry", task.entry_id}});
      metrics_.add("tasks_reclaimed_total", "");
      start(std::move(task));
    }
  }
  if (Clock::now() >= next_gauges_) {
    next_gauges_ = Clock::now() + kGaugesEvery;
    metrics_.set("task_queue_depth", "", static_cast<double>(co_await queue_.depth()));
    metrics_.set("task_queue_dead_letters", "", static_cast<double>(co_await queue_.dead_depth()));
  }
  const int free = settings_.concurrency - running_;
  if (free > 0) {
    for (auto& task : co_await queue_.read(name_, free, kReadBlock)) start(std::move(task));
  }
}

awaitable<void> Worker::drain(Millis grace) {
  const auto deadline = Clock::now() + grace;
  while (running_ > 0 && Clock::now() < deadline) co_await wait_for_task_end(deadline);
  if (running_ == 0) co_return;
  log::warn("stopping with tasks still running; they stay pending and will be reclaimed",
            {{"running", running_}});
  for (auto& signal : cancel_signals_) signal.emit(asio::cancellation_type::terminal);
  while (running_ > 0) co_await wait_for_task_end(Clock::now() + Millis(100));
}

awaitable<void> Worker::run(Millis grace) {
  queue_executor_ = co_await asio::this_coro::executor;
  co_await warn_if_tasks_can_be_lost(queue_);
  last_reclaim_ = Clock::now() - settings_.visibility_timeout;
  DutyLoop loop{.duty = "worker",
                .pass = [this] { return pass(); },
                .on_failure = [this](const Failure&) { group_ready_ = false; },
                .retry = {.base = Millis(250), .cap = Millis(2000)},
                .proves = {"redis"}};
  co_await supervise(std::move(loop), health_);
  co_await drain(grace);
}

}  // namespace os::tasks
