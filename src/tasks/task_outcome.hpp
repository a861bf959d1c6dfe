// What becomes of a task after a run: the worker's decision, apart from its I/O so that
// it is unit-tested. A dependency that is down puts the task off (capped backoff, for as
// long as it takes, never dead-lettered); a task that can never succeed is dead-lettered
// at once with the reason; any other failure is retried TASK_MAX_ATTEMPTS times in all.
#pragma once
#include <optional>
#include <string>

#include "config/settings.hpp"
#include "core/async.hpp"
#include "core/failure.hpp"
#include "tasks/task.hpp"

namespace os::tasks {

struct TaskOutcome {
  enum class Kind { Ack, Defer, Retry, DeadLetter } kind = Kind::Ack;
  Millis delay{0};     // Defer, Retry
  std::string reason;  // everything but Ack
};

// The first retry of a failure of unknown cause waits this long, doubling each time.
inline constexpr Millis kTaskRetryBase{1000};
inline constexpr Millis kTaskRetryCap{60'000};

// `failure`: nullopt for a run that succeeded.
TaskOutcome decide_outcome(const Task& task, const std::optional<Failure>& failure,
                           const config::TaskSettings& settings);

}  // namespace os::tasks
