// Connection settings for clusters: host lists, libpq multi-host URLs, Sentinel, quorum.
#include "config/endpoints.hpp"

#include <gtest/gtest.h>

#include "config/settings.hpp"

using namespace os::config;

namespace {
EnvMap with(std::initializer_list<std::pair<const std::string, std::string>> extra) {
  EnvMap env{{"SECRET_KEY", "4f7c1a9e2b6d8035cafe1d2e3f4a5b6c"}};
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

std::string failing_variable(const EnvMap& env) {
  try {
    load_settings(env);
  } catch (const ConfigError& e) {
    return e.variable();
  }
  return "";
}
}  // namespace

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

TEST(Config, SeveralPostgresHostsConnectToThePrimaryOnly) {
  const auto s = load_settings(with(
      {{"DATABASE_URL", "postgresql+asyncpg://orders:pw@127.0.0.1:5432,127.0.0.1:5433/orders"}}));
  EXPECT_NE(s.postgres.conninfo.find("host='127.0.0.1,127.0.0.1' port='5432,5433'"),
            std::string::npos)
      << s.postgres.conninfo;
  EXPECT_NE(s.postgres.conninfo.find("target_session_attrs='read-write'"), std::string::npos);
  EXPECT_EQ(s.postgres.display.find("pw"), std::string::npos);
  // One host: no read-write check (nothing to choose from), as before.
  const auto one = load_settings(with({{"POSTGRES_HOST", "db"}, {"POSTGRES_PORT", "6000"}}));
  EXPECT_NE(one.postgres.conninfo.find("host='db' port='6000'"), std::string::npos);
  EXPECT_EQ(one.postgres.conninfo.find("target_session_attrs"), std::string::npos);
  // POSTGRES_HOST takes libpq's list too; a URL's own choice wins.
  const auto listed = load_settings(with({{"POSTGRES_HOST", "a,b:7"}}));
  EXPECT_NE(listed.postgres.conninfo.find("host='a,b' port='5432,7'"), std::string::npos);
  const auto any =
      load_settings(with({{"DATABASE_URL", "postgresql://u@a,b/db?target_session_attrs=primary"}}));
  EXPECT_NE(any.postgres.conninfo.find("target_session_attrs='primary'"), std::string::npos);
  EXPECT_EQ(failing_variable(with({{"DATABASE_URL", "postgresql://a:1,b:x/db"}})), "DATABASE_URL");
}

TEST(Config, RabbitHostsFallBackToHostAndPort) {
  const auto one = load_settings(with({{"RABBITMQ_HOST", "mq"}, {"RABBITMQ_PORT", "5673"}}));
  ASSERT_EQ(one.rabbit.hosts.size(), 1u);
  EXPECT_EQ(one.rabbit.hosts[0], (HostPort{"mq", 5673}));
  const auto three = load_settings(with(
      {{"RABBITMQ_HOSTS", "a:1,b:2,c"}, {"RABBITMQ_HOST", "ignored"}, {"RABBITMQ_PORT", "9"}}));
  ASSERT_EQ(three.rabbit.hosts.size(), 3u);
  EXPECT_EQ(three.rabbit.hosts[2], (HostPort{"c", 9}));
  EXPECT_EQ(failing_variable(with({{"RABBITMQ_HOSTS", "a:1,,b"}})), "RABBITMQ_HOSTS");
}

TEST(Config, QueueTypeIsQuorumByDefault) {
  EXPECT_EQ(load_settings(with({})).rabbit.queue_type, QueueType::Quorum);
  EXPECT_EQ(load_settings(with({{"RABBITMQ_QUEUE_TYPE", "classic"}})).rabbit.queue_type,
            QueueType::Classic);
  EXPECT_EQ(failing_variable(with({{"RABBITMQ_QUEUE_TYPE", "stream"}})), "RABBITMQ_QUEUE_TYPE");
}

TEST(Config, SentinelsForCacheAndTaskQueue) {
  const auto plain = load_settings(with({}));
  EXPECT_FALSE(plain.redis.cache.uses_sentinel());
  const auto s = load_settings(with({{"REDIS_SENTINELS", "127.0.0.1:26379,127.0.0.1:26380"},
                                     {"REDIS_MASTER_NAME", "orders"},
                                     {"REDIS_DB", "2"}}));
  ASSERT_EQ(s.redis.cache.sentinels.size(), 2u);
  EXPECT_EQ(s.redis.cache.master_name, "orders");
  EXPECT_EQ(s.redis.cache.db, 2);
  // The task queue follows the cache Redis unless told otherwise.
  EXPECT_EQ(s.redis.tasks.sentinels, s.redis.cache.sentinels);
  const auto split = load_settings(with({{"REDIS_SENTINELS", "a"},
                                         {"CELERY_BROKER_URL", "redis://q:6000/1"},
                                         {"TASK_REDIS_SENTINELS", "b:1"},
                                         {"TASK_REDIS_MASTER_NAME", "tasks"}}));
  EXPECT_EQ(split.redis.cache.sentinels[0], (HostPort{"a", 26379}));
  EXPECT_EQ(split.redis.cache.master_name, "mymaster");
  EXPECT_EQ(split.redis.tasks.sentinels[0], (HostPort{"b", 1}));
  EXPECT_EQ(split.redis.tasks.master_name, "tasks");
  EXPECT_EQ(split.redis.tasks.db, 1);
  EXPECT_EQ(failing_variable(with({{"REDIS_MASTER_NAME", "x"}})), "REDIS_MASTER_NAME");
  EXPECT_EQ(failing_variable(with({{"REDIS_SENTINELS", "a:b"}})), "REDIS_SENTINELS");
}
