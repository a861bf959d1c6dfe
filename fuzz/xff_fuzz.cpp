// Client address from the TCP peer and X-Forwarded-For.
//
// The real logic is Pipeline::client_ip (src/http/pipeline.cpp), a member of the I/O
// library's Pipeline (which needs a Router, Authenticator, Cors and Metrics): it is not a
// pure function this harness can call. So this harness drives the pure piece it uses,
// domain::IpNetworks::contains, through a line-for-line copy of that walk (as of this
// commit: first X-Forwarded-For header line only, split on ',', trimmed of spaces,
// walked from the right while the hop is a trusted proxy). Keep it in sync, or better:
// move the walk into domain/ as a pure function and call it here.
//
// Input: first line = TCP peer, each further line = one X-Forwarded-For header line.
#include <string>
#include <vector>

#include "domain/ip_networks.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

namespace {
std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

const IpNetworks& trusted() {
  static const IpNetworks nets =
      *IpNetworks::parse({"10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "192.168.1.0/24"});
  return nets;
}

// Copy of Pipeline::client_ip.
std::string client_ip(const std::string& peer, const std::vector<std::string>& header_lines) {
  const auto is_trusted = [&](std::string_view ip) { return trusted().contains(ip); };
  if (header_lines.empty() || !is_trusted(peer)) return peer;
  std::string_view list = header_lines.front();  // Request::header returns the first one
  std::string candidate = peer;
  while (!list.empty()) {
    const auto comma = list.rfind(',');
    const auto item = trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
    if (item.empty()) continue;
    candidate = item;
    if (!is_trusted(item)) break;
  }
  return candidate;
}

bool is_ip(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
    return false;
  }
  return IpNetworks::parse({s}).has_value();
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
  const auto client = client_ip(peer, lines);

  if (!trusted().contains(peer) || lines.empty()) {
    FUZZ_CHECK(client == peer, fuzz::printable(client));
    return 0;
  }
  // The answer is the peer or one item of the header, never a mix.
  if (client != peer) {
    FUZZ_CHECK(lines.front().find(client) != std::string::npos, fuzz::printable(client));
    FUZZ_CHECK(client.find(',') == std::string::npos, fuzz::printable(client));
  }
  if (fuzz::strict()) {
    // Issue 8 item 4: every X-Forwarded-For item is validated as an IP, so the rate-limit
    // key is always an address (any string was a bucket), and every header line counts.
    FUZZ_CHECK(is_ip(client), "client address is not an IP: " + fuzz::printable(client));
    std::string all;
    for (const auto& l : lines) all += (all.empty() ? "" : ",") + l;
    FUZZ_CHECK(client_ip(peer, {all}) == client,
               "a later X-Forwarded-For line is ignored: " + fuzz::printable(client));
  }
  return 0;
}
