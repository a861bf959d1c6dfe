#include "core/write_now.hpp"

#include <boost/asio/error.hpp>

namespace os {

std::size_t write_now(asio::ip::tcp::socket& socket, asio::const_buffer data,
                      boost::system::error_code& ec) {
  ec.clear();
  std::size_t written = 0;
  while (written < data.size()) {
    const auto n = socket.write_some(data + written, ec);
    if (ec) {
      if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
      break;
    }
    written += n;
  }
  return written;
}

}  // namespace os
