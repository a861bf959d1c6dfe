#include "domain/ip_networks.hpp"

#include <gtest/gtest.h>

using os::domain::IpNetworks;

TEST(IpNetworks, MatchesAddressesAndRanges) {
  const auto n = IpNetworks::parse({"10.1.2.3", "127.0.0.0/8", "2001:db8::/32"});
  ASSERT_TRUE(n.has_value());
  EXPECT_TRUE(n->contains("10.1.2.3"));
  EXPECT_FALSE(n->contains("10.1.2.4"));
  EXPECT_TRUE(n->contains("127.9.9.9"));
  EXPECT_TRUE(n->contains("::ffff:127.0.0.1"));
  EXPECT_TRUE(n->contains("2001:db8:1::5"));
  EXPECT_FALSE(n->contains("2001:db9::1"));
  EXPECT_FALSE(n->contains("not an ip"));
}

TEST(IpNetworks, RejectsNamesPortsAndBadPrefixes) {
  std::string bad;
  for (const char* entry :
       {"proxy.internal", "10.0.0.1:8080", "10.0.0.0/33", "10.0.0.0/", "::1/129"}) {
    EXPECT_FALSE(IpNetworks::parse({entry}, &bad).has_value()) << entry;
    EXPECT_EQ(bad, entry);
  }
}

TEST(IpNetworksFuzzFindings, NulSignAndMappedEntries) {
  EXPECT_FALSE(IpNetworks::parse({std::string("10.0.0.1\0junk", 13)}));  // no C-string cut
  EXPECT_FALSE(IpNetworks::parse({"::/-0"}));
  EXPECT_FALSE(IpNetworks::parse({"10.0.0.0/+8"}));
  const auto mapped = *IpNetworks::parse({"::ffff:10.0.0.1"});
  EXPECT_TRUE(mapped.contains("10.0.0.1"));
  EXPECT_TRUE(mapped.contains("::ffff:10.0.0.1"));
  const auto wide = *IpNetworks::parse({"::ffff:10.0.0.0/9"});
  EXPECT_TRUE(wide.contains("::ffff:10.0.0.0"));
  const auto v4 = *IpNetworks::parse({"10.0.0.0/8"});
  EXPECT_TRUE(v4.contains("::ffff:10.1.2.3"));
}
