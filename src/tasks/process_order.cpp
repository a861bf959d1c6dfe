#include "tasks/process_order.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/logging.hpp"
#include "domain/clock.hpp"
#include "domain/order_json.hpp"

namespace os::tasks {

awaitable<void> OrderProcessor::run(const Task& task) {
  const auto started = domain::unix_ms();
  // Looked at before the delay, so that a task for an order already processed (the
  // reconciler raced the worker) or gone costs no slot for PROCESS_ORDER_DELAY_SECONDS.
  const auto order = co_await orders_.find(task.order_id);
  if (!order) throw PermanentFailure("order " + task.order_id + " does not exist");
  if (order->processed_at) {
    log::info("order already processed; nothing to do",
              {{"order_id", task.order_id}, {"event_id", task.event_id}});
    co_return;
  }
  if (delay_.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
    co_await timer.async_wait(asio::use_awaitable);
  }
  const auto updated =
      co_await orders_.mark_processed(task.order_id, worker_name_, task.attempt, started);
  if (!updated) {
    if (!co_await orders_.find(task.order_id)) {
      throw PermanentFailure("order " + task.order_id + " does not exist");
    }
    log::info("order already processed or unknown; nothing to do",
              {{"order_id", task.order_id}, {"event_id", task.event_id}});
    co_return;
  }
  // The cache must show processed_at at once: overwrite the cached representation.
  co_await cache_.put(updated->id, updated->version, updated->user_id,
                      domain::order_to_json(*updated), /*after_change=*/true);
  log::info("Order " + task.order_id + " processed",
            {{"order_id", task.order_id},
             {"event_id", task.event_id},
             {"trace_id", task.trace_id},
             {"attempt", task.attempt},
             {"queued_ms", static_cast<std::int64_t>(started - task.enqueued_ms)}});
}

}  // namespace os::tasks
