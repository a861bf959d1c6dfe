#include "events/broker_session.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/deadline.hpp"
#include "core/logging.hpp"

namespace os::events {

BrokerSession::BrokerSession(std::string duty, const config::RabbitSettings& settings,
                             std::function<void(amqp::AmqpConnection&)> on_open)
    : duty_(std::move(duty)),
      settings_(settings),
      topology_(topology_for(settings)),
      on_open_(std::move(on_open)) {}

amqp::AmqpConnection& BrokerSession::connection() {
  if (connection_) return *connection_;
  auto opened = connect_declared(settings_, topology_);
  if (on_open_) on_open_(*opened);
  connection_ = std::move(opened);
  ++generation_;
  log::info(duty_ + " connected to RabbitMQ", {{"node", connection_->node().text()},
                                               {"exchange", topology_.exchange},
                                               {"queue", topology_.queue}});
  return *connection_;
}

void BrokerSession::keep_alive() {
  if (!connection_) return;
  try {
    connection_->keep_alive();
  } catch (const amqp::AmqpError&) {
    connection_.reset();  // the next use reconnects (and reports the outage if it fails)
  }
}

awaitable<bool> BrokerSession::wait_readable(Millis timeout) {
  if (!connection_) throw amqp::AmqpError("no RabbitMQ connection");
  if (connection_->has_buffered_input()) co_return true;
  // Borrows rabbitmq-c's socket for the wait; released, never closed, afterwards.
  asio::posix::stream_descriptor socket(co_await asio::this_coro::executor, connection_->socket());
  // (A descriptor per wait, not one per connection: registering it with epoll reports input
  // already waiting, which rabbitmq-c may have left in the kernel's buffer.)
  struct Release {
    asio::posix::stream_descriptor& socket;
    asio::posix::stream_descriptor*& waiting_on;
    ~Release() {
      waiting_on = nullptr;
      socket.release();
    }
  } release{socket, waiting_on_};
  waiting_on_ = &socket;
  Deadline deadline(socket.get_executor(), timeout, [&socket] { socket.cancel(); });
  boost::system::error_code ec;  // cancelled: the timeout, interrupt_wait() or the stop
  co_await socket.async_wait(asio::posix::stream_descriptor::wait_read,
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

void BrokerSession::interrupt_wait() {
  if (waiting_on_ != nullptr) waiting_on_->cancel();
}

}  // namespace os::events
