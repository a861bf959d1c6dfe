#include "app/role.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

#include "core/logging.hpp"

namespace os::app {
namespace {
std::atomic<int> g_exit_code{0};

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

void request_shutdown(int exit_code) {
  g_exit_code = exit_code;
  ::kill(::getpid(), SIGTERM);
}

int run_until_signal(std::vector<std::unique_ptr<Role>>& roles) {
  for (auto& role : roles) role->start();
  const auto set = termination_signals();
  int signal = 0;
  sigwait(&set, &signal);
  log::info("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  for (auto& role : roles) role->stop();
  for (auto& role : roles) role->join();
  log::info("stopped", {{"exit_code", g_exit_code.load()}});
  return g_exit_code.load();
}

}  // namespace os::app
