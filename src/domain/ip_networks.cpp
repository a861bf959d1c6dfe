#include "domain/ip_networks.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace os::domain {
namespace {
// Parses an address into 4 or 16 bytes; returns the byte count or 0.
int parse_address(std::string_view text, std::array<unsigned char, 16>& out) {
  // inet_pton reads a C string: an embedded NUL would end the text early.
  if (text.find('\0') != std::string_view::npos) return 0;
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
    if (p.empty() || p.front() < '0' || p.front() > '9') return std::nullopt;  // no sign
    int prefix = -1;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc{} || end != p.data() + p.size() || prefix < 0 || prefix > size * 8) {
      return std::nullopt;
    }
    n.prefix = prefix;
  }
  // An IPv4-mapped entry (::ffff:10.0.0.1) is the IPv4 network it names: contains()
  // judges mapped addresses as IPv4 too.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (n.v6 && n.prefix >= 96 && std::equal(kMapped, kMapped + 12, n.bytes.begin())) {
    std::copy(n.bytes.begin() + 12, n.bytes.end(), n.bytes.begin());
    n.v6 = false;
    n.prefix -= 96;
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
  // An IPv4 address and its IPv4-mapped IPv6 form (::ffff:a.b.c.d) are the same host:
  // each network is compared with the form of its own family.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  std::array<unsigned char, 16> bytes{};
  const int size = parse_address(address, bytes);
  if (size == 0) return false;
  std::array<unsigned char, 16> v6{};
  std::array<unsigned char, 4> v4{};
  bool has_v4 = false;
  if (size == 4) {
    std::copy(kMapped, kMapped + 12, v6.begin());
    std::copy(bytes.begin(), bytes.begin() + 4, v6.begin() + 12);
    std::copy(bytes.begin(), bytes.begin() + 4, v4.begin());
    has_v4 = true;
  } else {
    v6 = bytes;
    if (std::equal(kMapped, kMapped + 12, bytes.begin())) {
      std::copy(bytes.begin() + 12, bytes.end(), v4.begin());
      has_v4 = true;
    }
  }
  for (const auto& n : networks_) {
    if (n.v6 ? prefix_matches(n.bytes.data(), v6.data(), n.prefix)
             : has_v4 && prefix_matches(n.bytes.data(), v4.data(), n.prefix)) {
      return true;
    }
  }
  return false;
}

}  // namespace os::domain
