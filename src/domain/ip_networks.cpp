#include "domain/ip_networks.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace os::domain {
namespace {
// Parses an address into 4 or 16 bytes; returns the byte count or 0.
int parse_address(std::string_view text, std::array<unsigned char, 16>& out) {
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) return 4;
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return 16;
  return 0;
}

bool prefix_matches(const unsigned char* a, const unsigned char* b, int prefix) {
  for (int bit = 0; bit < prefix; bit += 8) {
    const int bits = std::min(8, prefix - bit);
    const unsigned char mask = static_cast<unsigned char>(0xFF << (8 - bits));
    if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) return false;
  }
  return true;
}
}  // namespace

std::optional<IpNetworks::Network> IpNetworks::parse_one(std::string_view text) {
  Network n;
  const auto slash = text.find('/');
  const int size = parse_address(text.substr(0, slash), n.bytes);
  if (size == 0) return std::nullopt;
  n.v6 = size == 16;
  n.prefix = size * 8;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    int prefix = -1;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc{} || end != p.data() + p.size() || prefix < 0 || prefix > size * 8) {
      return std::nullopt;
    }
    n.prefix = prefix;
  }
  return n;
}

std::optional<IpNetworks> IpNetworks::parse(const std::vector<std::string>& entries,
                                            std::string* bad_entry) {
  IpNetworks out;
  for (const auto& e : entries) {
    auto n = parse_one(e);
    if (!n) {
      if (bad_entry != nullptr) *bad_entry = e;
      return std::nullopt;
    }
    out.networks_.push_back(*n);
  }
  return out;
}

bool IpNetworks::contains(std::string_view address) const {
  std::array<unsigned char, 16> bytes{};
  int size = parse_address(address, bytes);
  if (size == 16 &&
      std::equal(bytes.begin(), bytes.begin() + 12,
                 std::array<unsigned char, 12>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}.begin())) {
    std::copy(bytes.begin() + 12, bytes.end(), bytes.begin());  // IPv4-mapped IPv6
    size = 4;
  }
  if (size == 0) return false;
  for (const auto& n : networks_) {
    if (n.v6 == (size == 16) && prefix_matches(n.bytes.data(), bytes.data(), n.prefix)) return true;
  }
  return false;
}

}  // namespace os::domain
