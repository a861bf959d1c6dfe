// Suspends the calling coroutine for a while (a timer, never a blocked thread).
#pragma once
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/async.hpp"

namespace os {

inline awaitable<void> sleep_for(Millis duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  boost::system::error_code ec;  // cancellation just ends the sleep early
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace os
