// N io_contexts, one thread each (share-nothing): the api's concurrency model.
#pragma once
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "core/async.hpp"

namespace os::app {

class IoThreads {
 public:
  explicit IoThreads(int count);
  ~IoThreads();

  std::vector<asio::io_context*> contexts();
  asio::io_context& context(std::size_t i) { return *contexts_[i]; }
  std::size_t size() const { return contexts_.size(); }

  void run();   // starts the threads
  void stop();  // stops the loops and joins

 private:
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace os::app
