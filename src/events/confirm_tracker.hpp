// The relay's outbox rows that were published and not confirmed yet, by confirm tag, and
// what the broker's confirms make of them. Pure (no I/O), so its rules are unit-tested:
// a confirm settles only the row sent with its tag on the same connection (tags start
// again at 1 on every connection), a tag that comes again is a broken invariant, and rows
// left on a replaced connection are released, never matched with the new one's tags.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "amqp/client.hpp"
#include "db/outbox_repository.hpp"

namespace os::events {

class ConfirmTracker {
 public:
  struct Settled {
    std::vector<db::OutboxEvent> confirmed;
    std::map<std::string, std::vector<std::string>> unroutable;  // reason -> event ids
    std::vector<std::string> nacked;                             // event ids
  };

  // `event` went out with confirm tag `tag` on connection `connection` (a BrokerSession
  // generation). Throws LogicError for a tag already in flight, or when rows of another
  // connection are still tracked (release them first).
  void sent(std::uint64_t tag, db::OutboxEvent event, Clock::time_point at,
            std::uint64_t connection);
  // Sorts the broker's verdicts; tags not in flight (already released) are ignored.
  Settled settle(const std::vector<amqp::AmqpConnection::Settled>& verdicts);
  // Every row in flight, forgotten: their outcome is unknown, so they are published again.
  std::vector<std::string> release_all();
  // Rows in flight on a connection other than `current`: their confirms can never come.
  bool stranded(std::uint64_t current) const { return !rows_.empty() && connection_ != current; }
  // When the oldest row in flight was sent (nullopt: none in flight).
  std::optional<Clock::time_point> oldest_sent() const;
  std::size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }

 private:
  struct Row {
    db::OutboxEvent event;
    Clock::time_point sent;
  };
  std::map<std::uint64_t, Row> rows_;  // by confirm tag, oldest first
  std::uint64_t connection_ = 0;
};

}  // namespace os::events
