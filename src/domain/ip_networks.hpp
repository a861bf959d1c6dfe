// A set of IP addresses and CIDR ranges (TRUSTED_PROXIES), e.g. "10.0.0.1, 127.0.0.0/8, ::1".
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace os::domain {

class IpNetworks {
 public:
  // nullopt names the first entry that is neither an address nor a valid CIDR range.
  static std::optional<IpNetworks> parse(const std::vector<std::string>& entries,
                                         std::string* bad_entry = nullptr);
  bool contains(std::string_view address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
    int prefix = 0;
  };
  static std::optional<Network> parse_one(std::string_view text);
  std::vector<Network> networks_;
};

}  // namespace os::domain
