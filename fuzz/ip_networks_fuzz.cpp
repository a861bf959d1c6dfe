// Address / CIDR parsing: domain::IpNetworks::parse (TRUSTED_PROXIES entries) and
// IpNetworks::contains (every TCP peer and X-Forwarded-For item is looked up).
// Input: lines; all but the last are entries, the last is an address to look up.
#include <arpa/inet.h>

#include <string>
#include <vector>

#include "domain/ip_networks.hpp"
#include "fuzz_common.hpp"

using namespace os::domain;

namespace {
bool address_chars_only(std::string_view s) {
  for (unsigned char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == ':' || c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}
// ::ffff:a.b.c.d in any spelling (0::ffff:…, ::FFFF:0a00:1, …).
bool v4_mapped(const std::string& s) {
  unsigned char b[16];
  if (inet_pton(AF_INET6, s.c_str(), b) != 1) return false;
  for (int i = 0; i < 10; ++i)
    if (b[i] != 0) return false;
  return b[10] == 0xFF && b[11] == 0xFF;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  std::vector<std::string> entries;
  std::string_view rest = text;
  while (true) {
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    entries.emplace_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  const std::string query(rest);

  std::string bad;
  const auto nets = IpNetworks::parse(entries, &bad);
  if (!nets) {
    bool found = false;
    for (const auto& e : entries) found = found || e == bad;
    FUZZ_CHECK(found, "bad_entry is not an entry: " + fuzz::printable(bad));
    (void)IpNetworks{}.contains(query);
    return 0;
  }
  FUZZ_CHECK(nets->empty() == entries.empty(), fuzz::printable(text));
  for (const auto& e : entries) {
    if (fuzz::strict()) {
      // inet_pton stops at a NUL: "10.0.0.1\0junk" was accepted as 10.0.0.1.
      FUZZ_CHECK(address_chars_only(e), "accepted entry with junk: " + fuzz::printable(e));
    }
    const std::string address = e.substr(0, e.find('/'));
    if (!address_chars_only(address)) continue;
    // An address lies in its own network (an IPv4-mapped IPv6 entry is only checked in
    // strict mode: contains() maps such a peer to IPv4 and never matches v6 entries).
    if (v4_mapped(address) && !fuzz::strict()) continue;
    FUZZ_CHECK(nets->contains(address),
               "entry " + fuzz::printable(e) + " does not contain its own address");
  }
  const bool hit = nets->contains(query);
  if (hit && fuzz::strict()) {
    FUZZ_CHECK(address_chars_only(query) && query.find('/') == std::string::npos,
               "non-address matched: " + fuzz::printable(query));
  }
  return 0;
}
