// A role is one part of the system (api, relay, consumer, worker) that a process runs.
#pragma once
#include <memory>
#include <vector>

namespace os::app {

class Role {
 public:
  virtual ~Role() = default;
  virtual void start() = 0;  // throws on a startup error (bad port, ...)
  virtual void stop() = 0;   // begin a graceful stop; returns at once
  virtual void join() = 0;   // wait until stopped (bounded by the grace period)
};

// Starts every role, waits for SIGINT/SIGTERM, stops them gracefully. Returns the exit code.
int run_until_signal(std::vector<std::unique_ptr<Role>>& roles);

// Blocks SIGINT/SIGTERM in this and every later thread (call first in main).
void block_termination_signals();

// A role died: stop the whole process (so a supervisor restarts it) with `exit_code`.
void request_shutdown(int exit_code);

}  // namespace os::app
