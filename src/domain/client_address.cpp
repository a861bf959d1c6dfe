#include "domain/client_address.hpp"

#include <arpa/inet.h>

#include <array>

namespace os::domain {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 4 or 16 on success (bytes filled), 0 otherwise.
int parse(std::string_view text, std::array<unsigned char, 16>& bytes) {
  if (text.empty() || text.size() > 45) return 0;
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) return 4;
  if (inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) return 16;
  return 0;
}

std::string format(int family, const unsigned char* bytes) {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, out, sizeof out);
  return out;
}

}  // namespace

std::string canonical_ip(std::string_view text) {
  std::array<unsigned char, 16> b{};
  const int n = parse(trim(text), b);
  if (n == 0) return "";
  return format(n == 4 ? AF_INET : AF_INET6, b.data());
}

std::string client_address(std::string_view peer, const std::vector<std::string_view>& xff_lines,
                           const IpNetworks& trusted) {
  std::string candidate(peer);
  if (xff_lines.empty() || !trusted.contains(peer)) return candidate;
  // Items of all lines, last line's last item first.
  for (auto line = xff_lines.rbegin(); line != xff_lines.rend(); ++line) {
    std::string_view list = *line;
    while (!list.empty()) {
      const auto comma = list.rfind(',');
      const auto item = trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      if (item.empty()) continue;
      const auto ip = canonical_ip(item);
      if (ip.empty()) return candidate;  // junk: the hop that reported it is the client
      candidate = ip;
      if (!trusted.contains(ip)) return candidate;
    }
  }
  return candidate;
}

std::string bucket_key(std::string_view address) {
  std::array<unsigned char, 16> b{};
  const int n = parse(address, b);
  if (n == 4) return format(AF_INET, b.data());
  if (n == 0) return std::string(address);
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, b.begin())) return format(AF_INET, b.data() + 12);
  std::fill(b.begin() + 8, b.end(), 0);
  return format(AF_INET6, b.data()) + "/64";
}

}  // namespace os::domain
