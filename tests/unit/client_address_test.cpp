// Client address for rate limiting: all X-Forwarded-For lines, validated, IPv6 by /64.
#include "domain/client_address.hpp"

#include <gtest/gtest.h>

using namespace os::domain;

namespace {
IpNetworks proxies() {
  return *IpNetworks::parse({"10.0.0.0/8", "::1"});
}
}  // namespace

TEST(ClientAddress, PeerUnlessTrusted) {
  EXPECT_EQ(client_address("203.0.113.9", {"1.2.3.4"}, proxies()), "203.0.113.9");
  EXPECT_EQ(client_address("10.0.0.1", {}, proxies()), "10.0.0.1");
  EXPECT_EQ(client_address("10.0.0.1", {"1.2.3.4"}, proxies()), "1.2.3.4");
}

TEST(ClientAddress, EveryLineCountsLastLineLast) {
  // The client's own (forged) line first, the proxy's appended line last.
  EXPECT_EQ(client_address("10.0.0.1", {"6.6.6.6", "198.51.100.7"}, proxies()), "198.51.100.7");
  EXPECT_EQ(client_address("10.0.0.1", {"6.6.6.6", "198.51.100.7, 10.0.0.2"}, proxies()),
            "198.51.100.7");
}

TEST(ClientAddress, JunkIsNeverAKey) {
  EXPECT_EQ(client_address("10.0.0.1", {"not-an-ip"}, proxies()), "10.0.0.1");
  EXPECT_EQ(client_address("10.0.0.1", {"1.2.3.4, <script>"}, proxies()), "10.0.0.1");
  EXPECT_EQ(client_address("10.0.0.1", {"  ,, 1.2.3.4 ,"}, proxies()), "1.2.3.4");
}

TEST(ClientAddress, Ipv6ByPrefix) {
  EXPECT_EQ(bucket_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(bucket_key("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  EXPECT_NE(bucket_key("2001:db8:1:3::1"), bucket_key("2001:db8:1:2::1"));
  EXPECT_EQ(bucket_key("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(bucket_key("192.0.2.1"), "192.0.2.1");
}
