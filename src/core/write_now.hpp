// Writes to a socket at once, as far as the kernel takes it, without suspending.
//
// An asio write that could complete at once still completes later: its handler is posted,
// and the io thread polls epoll again before it runs (one more system call and loop turn
// per write). A response or a batch of Redis commands nearly always fits the socket's send
// buffer, so the caller writes it with non-blocking sends here and only hands what is left
// (a slow peer, a full buffer) to an asynchronous write with its timeout.
#pragma once
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

#include "core/async.hpp"

namespace os {

// Bytes of `data` written now (all, some or none); `ec` is set only by a failure, not by a
// full send buffer. The socket must be in non-blocking mode (`socket.non_blocking(true)`,
// once per connection), so that this never blocks the thread, and have no other write in
// progress.
std::size_t write_now(asio::ip::tcp::socket& socket, asio::const_buffer data,
                      boost::system::error_code& ec);

}  // namespace os
