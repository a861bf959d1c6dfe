#include "app/io_threads.hpp"

#include "core/logging.hpp"

namespace os::app {

IoThreads::IoThreads(int count) {
  for (int i = 0; i < count; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
}

IoThreads::~IoThreads() {
  stop();
}

std::vector<asio::io_context*> IoThreads::contexts() {
  std::vector<asio::io_context*> out;
  for (auto& c : contexts_) out.push_back(c.get());
  return out;
}

void IoThreads::run() {
  for (auto& c : contexts_) {
    threads_.emplace_back([ctx = c.get()] {
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          log::error("unhandled exception on io thread", {{"error", e.what()}});
        }
      }
    });
  }
}

void IoThreads::stop() {
  guards_.clear();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace os::app
