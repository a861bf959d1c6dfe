#include "events/confirm_tracker.hpp"

namespace os::events {

void ConfirmTracker::sent(std::uint64_t tag, db::OutboxEvent event, Clock::time_point at,
                          std::uint64_t connection) {
  if (!rows_.empty() && connection != connection_) {
    throw LogicError("rows in flight on a replaced RabbitMQ connection were not released");
  }
  connection_ = connection;
  // Never silently: its confirm would settle another row.
  if (!rows_.emplace(tag, Row{std::move(event), at}).second) {
    throw LogicError("a confirm tag of an unconfirmed publish came again");
  }
}

ConfirmTracker::Settled ConfirmTracker::settle(
    const std::vector<amqp::AmqpConnection::Settled>& verdicts) {
  Settled out;
  for (const auto& v : verdicts) {
    const auto it = rows_.find(v.tag);
    if (it == rows_.end()) continue;
    if (v.result.confirmed()) {
      out.confirmed.push_back(std::move(it->second.event));
    } else if (v.result.status == amqp::PublishResult::Status::Returned) {
      out.unroutable[v.result.reason].push_back(it->second.event.id);
    } else {
      out.nacked.push_back(it->second.event.id);
    }
    rows_.erase(it);
  }
  return out;
}

std::vector<std::string> ConfirmTracker::release_all() {
  std::vector<std::string> ids;
  ids.reserve(rows_.size());
  for (const auto& [tag, row] : rows_) ids.push_back(row.event.id);
  rows_.clear();
  return ids;
}

std::optional<Clock::time_point> ConfirmTracker::oldest_sent() const {
  if (rows_.empty()) return std::nullopt;
  auto oldest = rows_.begin()->second.sent;
  for (const auto& [tag, row] : rows_) oldest = std::min(oldest, row.sent);
  return oldest;
}

}  // namespace os::events
