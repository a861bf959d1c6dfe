#include "tasks/task_outcome.hpp"

#include "core/dependency_health.hpp"

namespace os::tasks {

TaskOutcome decide_outcome(const Task& task, const std::optional<Failure>& failure,
                           const config::TaskSettings& settings) {
  using Kind = TaskOutcome::Kind;
  if (!failure) return {Kind::Ack, Millis(0), ""};
  switch (failure->kind) {
    case FailureKind::Transient:
      return {Kind::Defer,
              capped_backoff(task.deferrals, kTaskRetryBase,
                             std::chrono::duration_cast<Millis>(settings.retry_max_backoff)),
              failure->reason};
    case FailureKind::Permanent:
      return {Kind::DeadLetter, Millis(0), failure->reason};
    case FailureKind::Unknown:
      break;
  }
  if (task.attempt + 1 < settings.max_attempts) {
    return {Kind::Retry, capped_backoff(task.attempt, kTaskRetryBase, kTaskRetryCap),
            failure->reason};
  }
  return {Kind::DeadLetter, Millis(0), failure->reason};
}

}  // namespace os::tasks
