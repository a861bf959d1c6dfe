// Short names for the coroutine vocabulary used across the I/O layer.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>

namespace os {
namespace asio = boost::asio;
template <typename T = void>
using awaitable = asio::awaitable<T>;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
}  // namespace os
