#include "tasks/worker.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "core/sleep.hpp"

namespace os::tasks {
namespace {
constexpr Millis kReadBlock{1000};
constexpr Millis kErrorPause{1000};
constexpr Millis kRetryBase{1000};
constexpr Millis kUnknownRetryCap{60'000};
}  // namespace

awaitable<void> Worker::execute(Task task) {
  const auto wait_ms = task.not_before_ms - unix_ms();
  if (wait_ms > 0) co_await sleep_for(Millis(wait_ms));
  if (cancelled_) co_return;  // shutting down: leave it pending for another worker
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
  if (cancelled_) co_return;
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
                   if (slot_waiter_ != nullptr) slot_waiter_->cancel();
                 }));
}

awaitable<void> Worker::wait_for_slot(const std::atomic<bool>& stopping) {
  while (running_ >= settings_.concurrency && !stopping) {
    asio::steady_timer timer(co_await asio::this_coro::executor, Millis(500));
    slot_waiter_ = &timer;
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    slot_waiter_ = nullptr;
  }
}

awaitable<void> Worker::run(const std::atomic<bool>& stopping, Millis grace) {
  queue_executor_ = co_await asio::this_coro::executor;
  co_await warn_if_tasks_can_be_lost(queue_);
  auto last_reclaim = Clock::now() - settings_.visibility_timeout;
  auto next_gauges = Clock::now();
  bool group_ready = false;  // makes the first pass create the consumer group
  while (!stopping) {
    co_await wait_for_slot(stopping);
    if (stopping) break;
    bool failed = false;
    try {
      if (!group_ready) co_await queue_.ensure_group();
      group_ready = true;
      if (Clock::now() - last_reclaim > settings_.visibility_timeout / 2) {
        last_reclaim = Clock::now();
        for (auto& task : co_await queue_.reclaim(name_, settings_.concurrency - running_)) {
          log::warn("reclaimed a task left by a stopped worker",
                    {{"order_id", task.order_id}, {"entry", task.entry_id}});
          metrics_.add("tasks_reclaimed_total", "");
          start(std::move(task));
        }
      }
      if (Clock::now() >= next_gauges) {
        next_gauges = Clock::now() + std::chrono::seconds(5);
        metrics_.set("task_queue_depth", "", static_cast<double>(co_await queue_.depth()));
        metrics_.set("task_queue_dead_letters", "",
                     static_cast<double>(co_await queue_.dead_depth()));
      }
      const int free = settings_.concurrency - running_;
      if (free > 0) {
        for (auto& task : co_await queue_.read(name_, free, kReadBlock)) start(std::move(task));
      }
      health_.up("redis");
    } catch (...) {
      health_.down(classify(std::current_exception()));
      group_ready = false;
      failed = true;
    }
    if (failed) co_await sleep_for(kErrorPause);
  }
  const auto deadline = Clock::now() + grace;
  while (running_ > 0 && Clock::now() < deadline) co_await sleep_for(Millis(50));
  if (running_ > 0) {
    log::warn("stopping with tasks still running; they stay pending and will be reclaimed",
              {{"running", running_}});
    cancelled_ = true;
    for (auto& signal : cancel_signals_) signal.emit(asio::cancellation_type::terminal);
    while (running_ > 0) co_await sleep_for(Millis(10));
  }
}

}  // namespace os::tasks
