#include "tasks/worker.hpp"

#include <boost/asio/this_coro.hpp>

#include "core/capture.hpp"
#include "core/logging.hpp"
#include "core/supervisor.hpp"
#include "domain/clock.hpp"

namespace os::tasks {
namespace {
constexpr Millis kReadBlock{1000};
// A full worker looks at its chores at least this often while it waits for a free slot.
constexpr Millis kChoresWhileFull{250};
constexpr Millis kPromoteEvery{250};
constexpr auto kGaugesEvery = std::chrono::seconds(5);
// Delayed tasks moved back per script call (bounds the script's run time in Redis).
constexpr int kPromoteBatch = 500;
}  // namespace

Worker::Worker(TaskQueue& queue, OrderProcessor& processor, const config::TaskSettings& settings,
               Metrics& metrics, std::string name)
    : queue_(queue),
      processor_(processor),
      settings_(settings),
      metrics_(metrics),
      name_(std::move(name)),
      promote_(kPromoteEvery),
      keep_claimed_(settings.visibility_timeout / 3),
      reclaim_(settings.visibility_timeout / 2),
      gauges_(kGaugesEvery) {}

awaitable<void> Worker::run_task(const Task& task) {
  if (task.name != "process_order") throw PermanentFailure("unknown task '" + task.name + "'");
  if (task.order_id.empty()) throw PermanentFailure("task without an order_id");
  co_await processor_.run(task);
}

awaitable<void> Worker::execute(Task task) {
  running_.insert(task.entry_id);
  if (task.not_before_ms > domain::unix_ms()) {
    // An entry of an older binary that waits in the stream: it waits in the delayed set.
    if (const auto e = co_await capture(queue_.park(task))) health_.down(classify(e));
  } else {
    const auto error = co_await capture(run_task(task));
    // Cancelled (the grace ran out): left pending for another worker.
    const bool cancelled = co_await stop_requested();
    if (!cancelled) {
      if (const auto e = co_await capture(conclude(task, error))) {
        // Not concluded: it stays pending and is reclaimed after the visibility timeout.
        health_.down(classify(e));
      }
    }
  }
  running_.erase(task.entry_id);
}

awaitable<void> Worker::conclude(const Task& task, std::exception_ptr error) {
  const auto outcome =
      decide_outcome(task, error ? std::optional(classify(error)) : std::nullopt, settings_);
  using Kind = TaskOutcome::Kind;
  switch (outcome.kind) {
    case Kind::Ack:
      co_await queue_.ack(task);
      health_.all_up();
      metrics_.add("tasks_total", label("result", "done"));
      break;
    case Kind::Defer:
      health_.down(classify(error));
      co_await queue_.defer(task, outcome.delay, outcome.reason);
      metrics_.add("tasks_total", label("result", "deferred"));
      break;
    case Kind::Retry:
      log::warn("task failed; will retry",
                {{"order_id", task.order_id},
                 {"attempt", task.attempt},
                 {"delay_ms", static_cast<std::int64_t>(outcome.delay.count())},
                 {"error", outcome.reason}});
      co_await queue_.retry(task, outcome.delay, outcome.reason);
      metrics_.add("tasks_total", label("result", "retried"));
      break;
    case Kind::DeadLetter:
      log::error("task dead-lettered", {{"order_id", task.order_id},
                                        {"task", task.name},
                                        {"attempt", task.attempt},
                                        {"reason", outcome.reason}});
      co_await queue_.dead_letter(task, outcome.reason);
      metrics_.add("tasks_total", label("result", "dead_lettered"));
      break;
  }
}

void Worker::start(Task task) {
  tasks_->spawn(execute(std::move(task)));
}

void Worker::count_dropped(std::size_t dropped) {
  if (dropped > 0) {
    metrics_.add("tasks_total", label("result", "duplicate"), static_cast<double>(dropped));
  }
}

awaitable<void> Worker::chores() {
  const auto now = Clock::now();
  if (promote_.due(now)) {
    const auto promoted = co_await queue_.promote_due(kPromoteBatch);
    // A full batch: more may be due, so the next pass looks again at once.
    if (promoted == static_cast<std::size_t>(kPromoteBatch))
      promote_.postpone(now - promote_.period());
  }
  if (keep_claimed_.due(now) && !running_.empty()) {
    co_await queue_.keep_claimed(name_, {running_.begin(), running_.end()});
  }
  const int free = settings_.concurrency - static_cast<int>(tasks_->size());
  if (free > 0 && reclaim_.due(now)) {
    auto reclaimed = co_await queue_.reclaim(name_, free);
    count_dropped(reclaimed.dropped);
    for (auto& task : reclaimed.run) {
      log::warn("reclaimed a task left by a stopped worker",
                {{"order_id", task.order_id}, {"entry", task.entry_id}});
      metrics_.add("tasks_reclaimed_total", "");
      start(std::move(task));
    }
  }
  if (gauges_.due(now)) {
    metrics_.set("task_queue_depth", "", static_cast<double>(co_await queue_.depth()));
    metrics_.set("task_queue_delayed", "", static_cast<double>(co_await queue_.delayed_depth()));
    metrics_.set("task_queue_dead_letters", "", static_cast<double>(co_await queue_.dead_depth()));
  }
}

awaitable<void> Worker::pass() {
  if (!group_ready_) co_await queue_.ensure_group();
  group_ready_ = true;
  co_await chores();
  const int free = settings_.concurrency - static_cast<int>(tasks_->size());
  if (free <= 0) {
    co_await tasks_->wait_for_one_to_end(Clock::now() + kChoresWhileFull);
    co_return;
  }
  auto batch = co_await queue_.read(name_, free, kReadBlock);
  count_dropped(batch.dropped);
  for (auto& task : batch.run) start(std::move(task));
}

awaitable<void> Worker::drain(Millis grace) {
  bool all_ended = co_await tasks_->wait_for_all(Clock::now() + grace);
  if (!all_ended) {
    log::warn("stopping with tasks still running; they stay pending and will be reclaimed",
              {{"running", static_cast<std::int64_t>(tasks_->size())}});
    tasks_->emit();
  }
  while (!all_ended) all_ended = co_await tasks_->wait_for_all(Clock::now() + Millis(100));
}

awaitable<void> Worker::run(Millis grace) {
  tasks_.emplace(co_await asio::this_coro::executor);
  co_await warn_if_tasks_can_be_lost(queue_);
  DutyLoop loop{.duty = "worker",
                .pass = [this] { return pass(); },
                .on_failure = [this](const Failure&) { group_ready_ = false; },
                .retry = {.base = Millis(250), .cap = Millis(2000)},
                .proves = {Dependency::Redis}};
  co_await supervise(std::move(loop), health_);
  co_await drain(grace);
}

}  // namespace os::tasks
