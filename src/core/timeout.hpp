// Races an operation against a timer; the loser is cancelled.
#pragma once
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "core/async.hpp"

namespace os {

// nullopt when `timeout` elapsed first. Exceptions from the operation propagate.
template <typename T>
awaitable<std::optional<T>> with_timeout(awaitable<T> operation, Millis timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (std::move(operation) || timer.async_wait(asio::use_awaitable));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  co_return std::nullopt;
}

}  // namespace os
