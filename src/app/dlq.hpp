// `order-service dlq list|replay`: the two dead-letter places (the new_order.dlq queue
// and the task dead-letter stream), shown and put back.
#pragma once
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace os::app {

// Exit status of both commands: 0 done, 1 a server is unreachable, 2 bad arguments
// (including an ID that is in neither place).
int dlq_list(const config::Settings& settings, int limit, bool json);
// Events go back to the exchange with the new_order routing key, tasks to the task stream
// as fresh tasks; each is removed from its dead-letter place only once it is back. The
// inbox and process_order's idempotence keep a replay from duplicating any effect.
int dlq_replay(const config::Settings& settings, const std::vector<std::string>& ids, bool all);

}  // namespace os::app
