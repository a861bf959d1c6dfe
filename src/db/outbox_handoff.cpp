#include "db/outbox_handoff.hpp"

namespace os::db {

std::chrono::seconds OutboxHandoff::lease_for_new_row() const {
  if (!doorbell_.attached()) return std::chrono::seconds(0);
  std::lock_guard lock(mutex_);
  return waiting_.size() < kMaxWaiting ? lease_ : std::chrono::seconds(0);
}

void OutboxHandoff::hand_over(OutboxEvent event) {
  {
    std::lock_guard lock(mutex_);
    waiting_.push_back(std::move(event));
  }
  // Not attached (the relay failed since the insert): the row waits here for the relay to
  // work again, or for its lease to end (then any relay claims it).
  doorbell_.ring(kHanded);
}

std::vector<OutboxEvent> OutboxHandoff::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(waiting_, {});
}

}  // namespace os::db
