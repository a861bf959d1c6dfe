// Client address from the TCP peer and every X-Forwarded-For header line:
// domain::client_address, the function MiddlewareChain::client_ip calls, and bucket_key.
//
// Input: first line = TCP peer, each further line = one X-Forwarded-For header line.
#include <string>
#include <vector>

#include "domain/client_address.hpp"
#include "domain/ip_networks.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

namespace {
const IpNetworks& trusted() {
  static const IpNetworks nets =
      *IpNetworks::parse({"10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "192.168.1.0/24"});
  return nets;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest = fuzz::as_text(data, size);
  std::vector<std::string> lines;
  while (true) {
    const auto nl = rest.find('\n');
    lines.emplace_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  const std::string peer = lines.front();
  lines.erase(lines.begin());
  const std::vector<std::string_view> views(lines.begin(), lines.end());
  const auto client = client_address(peer, views, trusted());

  if (!trusted().contains(peer) || lines.empty()) {
    FUZZ_CHECK(client == peer, fuzz::printable(client));
    return 0;
  }
  // Behind a trusted proxy the answer is the peer or a validated address, never a string
  // a client made up, and every header line counts as if they were one list.
  FUZZ_CHECK(client == peer || !canonical_ip(client).empty(),
             "client address is not an IP: " + fuzz::printable(client));
  std::string all;
  for (const auto& l : lines) all += (all.empty() ? "" : ",") + l;
  FUZZ_CHECK(client_address(peer, {all}, trusted()) == client,
             "header lines are not read as one list: " + fuzz::printable(client));
  // The bucket of an address is stable and never empty.
  const auto key = bucket_key(client);
  FUZZ_CHECK(!key.empty() && bucket_key(client) == key, fuzz::printable(key));
  return 0;
}
