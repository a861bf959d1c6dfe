#include "app/role.hpp"

#include <pthread.h>
#include <csignal>

#include "core/logging.hpp"

namespace os::app {
namespace {
sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_termination_signals() {
  const auto set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_until_signal(std::vector<std::unique_ptr<Role>>& roles) {
  for (auto& role : roles) role->start();
  const auto set = termination_signals();
  int signal = 0;
  sigwait(&set, &signal);
  log::info("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  for (auto& role : roles) role->stop();
  for (auto& role : roles) role->join();
  log::info("stopped");
  return 0;
}

}  // namespace os::app
