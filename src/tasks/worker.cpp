#include "tasks/worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "core/sleep.hpp"
#include "db/pg_connection.hpp"

namespace os::tasks {
namespace {
constexpr Millis kReadBlock{1000};
constexpr Millis kErrorPause{1000};

Millis backoff(int attempt) {
  return Millis(std::min<std::int64_t>(60'000, 1000LL << std::min(attempt, 6)));
}
}  // namespace

awaitable<void> Worker::execute(Task task) {
  const auto wait_ms = task.not_before_ms - unix_ms();
  if (wait_ms > 0) co_await sleep_for(Millis(wait_ms));
  std::string error;
  try {
    if (task.name != "process_order" || task.order_id.empty()) {
      throw std::invalid_argument("unknown task '" + task.name + "'");
    }
    co_await processor_.run(task);
  } catch (const std::exception& e) {
    error = e.what();
  }
  try {
    if (error.empty()) {
      co_await queue_.ack(task);
      metrics_.add("tasks_total", label("result", "done"));
    } else if (task.attempt + 1 < settings_.max_attempts) {
      log::warn("task failed; will retry",
                {{"order_id", task.order_id}, {"attempt", task.attempt}, {"error", error}});
      co_await queue_.retry(task, backoff(task.attempt), error);
      metrics_.add("tasks_total", label("result", "retried"));
    } else {
      log::error("task failed for the last time; dead-lettered",
                 {{"order_id", task.order_id}, {"attempt", task.attempt}, {"error", error}});
      co_await queue_.dead_letter(task, error);
      metrics_.add("tasks_total", label("result", "dead_lettered"));
    }
  } catch (const std::exception& e) {
    // Not acked: it stays pending and is reclaimed after the visibility timeout.
    log::warn("could not settle a task; it will be reclaimed",
              {{"order_id", task.order_id}, {"error", e.what()}});
  }
}

void Worker::start(Task task) {
  ++running_;
  asio::co_spawn(queue_executor_, execute(std::move(task)), [this](std::exception_ptr) {
    --running_;
    if (slot_waiter_ != nullptr) slot_waiter_->cancel();
  });
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
  auto last_reclaim = Clock::now() - settings_.visibility_timeout;
  auto next_gauges = Clock::now();
  bool healthy = false;  // makes the first pass create the consumer group
  bool reported_down = false;
  while (!stopping) {
    co_await wait_for_slot(stopping);
    if (stopping) break;
    std::string failure;
    try {
      if (!healthy) co_await queue_.ensure_group();
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
      if (reported_down) log::info("task queue reachable again");
      healthy = true;
      reported_down = false;
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      if (!reported_down) log::warn("task queue unavailable; retrying", {{"error", failure}});
      healthy = false;
      reported_down = true;
      co_await sleep_for(kErrorPause);
    }
  }
  const auto deadline = Clock::now() + grace;
  while (running_ > 0 && Clock::now() < deadline) co_await sleep_for(Millis(50));
  if (running_ > 0) {
    log::warn("stopping with tasks still running; they will be reclaimed", {{"running", running_}});
  }
}

}  // namespace os::tasks
