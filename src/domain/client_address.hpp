// Who the client is, for rate limiting: the TCP peer, or — when the peer is a trusted
// proxy — the rightmost X-Forwarded-For entry that no trusted proxy added, read across
// every X-Forwarded-For line in order (a proxy may append a line of its own).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "domain/ip_networks.hpp"

namespace os::domain {

// Entries that are not IP addresses end the walk: the client is then the hop that
// reported them (a trusted proxy), never an arbitrary string.
std::string client_address(std::string_view peer, const std::vector<std::string_view>& xff_lines,
                           const IpNetworks& trusted);

// The rate-limit bucket of an address: IPv4 as it is, IPv6 by its /64 (a host gets a
// whole /64, so rotating within it must not give fresh buckets); an IPv4-mapped IPv6
// address counts as its IPv4 address. Anything unparsable is its own bucket.
std::string bucket_key(std::string_view address);

// Canonical text of an IP address, or "" if `text` is not one.
std::string canonical_ip(std::string_view text);

}  // namespace os::domain
