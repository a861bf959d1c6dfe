// Parsing of cluster addresses: host:port lists and libpq multi-host URLs.
#include "config/endpoints.hpp"

#include <gtest/gtest.h>

#include "config/settings.hpp"  // ConfigError

using namespace os::config;

TEST(HostPorts, ParsesListsWithDefaultsAndV6) {
  const auto hosts = parse_host_ports("X", "a:1, b ,[::1]:3", 9);
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[0], (HostPort{"a", 1}));
  EXPECT_EQ(hosts[1], (HostPort{"b", 9}));
  EXPECT_EQ(hosts[2], (HostPort{"::1", 3}));
  EXPECT_EQ(hosts[2].text(), "[::1]:3");
}

TEST(HostPorts, RejectsBadEntries) {
  for (const char* bad : {"", "a,,b", "a:0", "a:65536", "a:x", ":5", "[::1", "a b:1", "a:"}) {
    EXPECT_THROW(parse_host_ports("X", bad, 9), ConfigError) << bad;
  }
  EXPECT_THROW(parse_host_ports("X", "a", 0), ConfigError);  // port required
}

TEST(PostgresUrl, MultiHostWithParametersAndEscapes) {
  const auto url = parse_postgres_url(
      "DATABASE_URL", "postgresql://u%40x:p%3Aw@h1:5432,h2:6543,h3/db%2F1?sslmode=disable", 7);
  ASSERT_EQ(url.hosts.size(), 3u);
  EXPECT_EQ(url.hosts[1], (HostPort{"h2", 6543}));
  EXPECT_EQ(url.hosts[2], (HostPort{"h3", 7}));
  EXPECT_EQ(url.user, "u@x");
  EXPECT_EQ(url.password, "p:w");
  EXPECT_EQ(url.dbname, "db/1");
  EXPECT_EQ(url.parameters.at("sslmode"), "disable");
}

TEST(PostgresUrl, RejectsWhatLibpqWouldMisread) {
  for (const char* bad :
       {"mysql://h/db", "postgresql:/h", "postgresql://h:x/db", "postgresql://h/db?bad key=1",
        "postgresql://h/db?novalue", "postgresql://h/d b", "postgresql://h/db%zz"}) {
    EXPECT_THROW(parse_postgres_url("DATABASE_URL", bad, 5432), ConfigError) << bad;
  }
}
