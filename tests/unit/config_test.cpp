#include "config/settings.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

using namespace os::config;

namespace {
EnvMap base() {
  return {{"SECRET_KEY", "4f7c1a9e2b6d8035cafe1d2e3f4a5b6c"}};
}

EnvMap with(std::initializer_list<std::pair<const std::string, std::string>> extra) {
  EnvMap env = base();
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

std::string failing_variable(EnvMap env) {
  try {
    load_settings(env);
  } catch (const ConfigError& e) {
    return e.variable();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsAreUsable) {
  const auto s = load_settings(base());
  EXPECT_EQ(s.http.port, 8000);
  EXPECT_EQ(s.redis.orders_ttl, std::chrono::seconds(300));
  EXPECT_EQ(s.rabbit.new_order_queue, "new_order");
  EXPECT_EQ(s.tasks.process_order_delay.count(), 2000);
}

TEST(Config, SecretKeyIsRequiredAndLong) {
  EXPECT_EQ(failing_variable({}), "SECRET_KEY");
  EXPECT_EQ(failing_variable({{"SECRET_KEY", "short"}}), "SECRET_KEY");
}

TEST(Config, SecretKeyRefusesPlaceholderAndLowEntropy) {
  EXPECT_EQ(failing_variable({{"SECRET_KEY", std::string(kSecretKeyPlaceholder)}}), "SECRET_KEY");
  EXPECT_EQ(failing_variable({{"SECRET_KEY", std::string(32, 's')}}), "SECRET_KEY");
  EXPECT_EQ(failing_variable({{"SECRET_KEY", "abababababababababababababababab"}}), "SECRET_KEY");
  EXPECT_EQ(failing_variable({{"SECRET_KEY", "123456789123456789123456789123456789"}}),
            "SECRET_KEY");  // 9 distinct
  // 10 distinct characters, but one period of digits repeated (issue 26).
  EXPECT_EQ(failing_variable({{"SECRET_KEY", "0123456789012345678901234567890123"}}), "SECRET_KEY");
}

TEST(Config, SecretKeyRefusesRepeatedAndSequentialPatterns) {
  const auto refused = [](const std::string& key) {
    try {
      check_secret_key("SECRET_KEY", key);
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.variable(), "SECRET_KEY");
      return true;
    }
    return false;
  };
  for (const std::string key : {
           std::string("0123456789012345678901234567890123456789"),  // the issue's example
           std::string("9876543210987654321098765432109876543210"),  // backwards
           std::string("abcdefghijklmnopqrstuvwxyz012345"),          // the alphabet
           std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"),
           std::string("aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpP"),      // case ignored
           std::string("qwertyuiopasdfghjklzxcvbnm123456"),      // keyboard rows
           std::string("abc123abc123abc123abc123abc123abc123"),  // a short period
           std::string("Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3"),     // a password, thrice
           std::string("x") + std::string("0123456789") + "0123456789" + "0123456789" + "!",
           std::string("passwordpasswordpasswordpassword1"),
       }) {
    EXPECT_TRUE(refused(key)) << key;
  }
  // What key generators give is accepted: hex, base64, base64url, from several sources.
  for (const std::string key : {
           std::string("4f7c1a9e2b6d8035cafe1d2e3f4a5b6c"),
           std::string("sR3f9Kq2LmZx7VtBw1NcHy8JpD4gUe6A"),
           std::string("hQ0x/5m1Ky3WcR+PbZt8vN2fJa6LdGs4Ue7Yo9Ti3Hk="),
           std::string("kN4_e8Rf-Tq2Wz7Yp1Ub6Xc3Va9Sd5Lm"),
       }) {
    EXPECT_FALSE(refused(key)) << key;
  }
}

TEST(Config, RandomKeysPassThePatternCheck) {
  // A deterministic stream of random-looking hex and base64 keys of the minimum length:
  // the pattern check must not refuse what `openssl rand -hex 16` or
  // `head -c 24 /dev/urandom | base64` print (the fewest unpredictable characters in a
  // million random hex keys was 13; the bound is 12).
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  constexpr std::string_view kHex = "0123456789abcdef";
  constexpr std::string_view kBase64 =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 20000; ++i) {
    std::string hex, b64;
    for (int j = 0; j < 32; ++j) {
      hex += kHex[next() % kHex.size()];
      b64 += kBase64[next() % kBase64.size()];
    }
    EXPECT_NO_THROW(check_secret_key("SECRET_KEY", hex)) << hex;
    EXPECT_NO_THROW(check_secret_key("SECRET_KEY", b64)) << b64;
  }
}

TEST(Config, SecretKeyFallbacksAreCheckedLikeTheKey) {
  const std::string a = "sR3f9Kq2LmZx7VtBw1NcHy8JpD4gUe6A";
  const std::string b = "kN4_e8Rf-Tq2Wz7Yp1Ub6Xc3Va9Sd5Lm";
  auto s = load_settings(with({{"SECRET_KEY_FALLBACKS", a + ", " + b}}));
  EXPECT_EQ(s.secret_key_fallbacks, (std::vector<std::string>{a, b}));
  EXPECT_TRUE(load_settings(base()).secret_key_fallbacks.empty());
  // One per line, as a SECRET_KEY_FALLBACKS_FILE may hold them.
  s = load_settings(with({{"SECRET_KEY_FALLBACKS", a + "\n" + b + "\r\n"}}));
  EXPECT_EQ(s.secret_key_fallbacks, (std::vector<std::string>{a, b}));
  for (const std::string bad :
       {std::string("short"), std::string(kSecretKeyPlaceholder), std::string(40, 's'),
        std::string("0123456789012345678901234567890123456789")}) {
    EXPECT_EQ(failing_variable(with({{"SECRET_KEY_FALLBACKS", a + "," + bad}})),
              "SECRET_KEY_FALLBACKS")
        << bad;
    try {
      load_settings(with({{"SECRET_KEY_FALLBACKS", a + "," + bad}}));
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("entry 2 of 2"), std::string::npos) << what;
      EXPECT_EQ(what.find(bad), std::string::npos) << "the message shows the key: " << what;
    }
  }
}

TEST(Config, BadValuesNameTheirVariable) {
  auto with = [](std::string k, std::string v) {
    auto env = base();
    env[k] = v;
    return failing_variable(env);
  };
  EXPECT_EQ(with("API_PORT", "abc"), "API_PORT");
  EXPECT_EQ(with("API_PORT", "70000"), "API_PORT");
  EXPECT_EQ(with("RUN_MIGRATIONS_ON_STARTUP", "maybe"), "RUN_MIGRATIONS_ON_STARTUP");
  EXPECT_EQ(with("LOG_LEVEL", "loud"), "LOG_LEVEL");
  EXPECT_EQ(with("DATABASE_URL", "mysql://x"), "DATABASE_URL");
  EXPECT_EQ(with("REDIS_URL", "redis://h:1/99"), "REDIS_URL");
  EXPECT_EQ(with("ALGORITHM", "none"), "ALGORITHM");
  EXPECT_EQ(with("PROCESS_ORDER_DELAY_SECONDS", "-1"), "PROCESS_ORDER_DELAY_SECONDS");
}

TEST(Config, CorsWildcardWithCredentialsIsRefused) {
  auto env = base();
  env["CORS_ALLOW_ORIGINS"] = "*";
  env["CORS_ALLOW_CREDENTIALS"] = "true";
  EXPECT_EQ(failing_variable(env), "CORS_ALLOW_CREDENTIALS");
}

TEST(Config, DatabaseUrlOverridesParts) {
  auto env = base();
  env["DATABASE_URL"] = "postgresql+asyncpg://u:p%40ss@db.local:6000/shop";
  const auto s = load_settings(env);
  EXPECT_NE(s.postgres.conninfo.find("port='6000'"), std::string::npos);
  EXPECT_NE(s.postgres.conninfo.find("dbname='shop'"), std::string::npos);
  EXPECT_NE(s.postgres.conninfo.find("password='p@ss'"), std::string::npos);
}

// libpq takes the last of a repeated keyword: the appended `options` must carry
// DATABASE_URL's own settings as well as every one added.
TEST(Config, SessionSettingsKeepTheUrlsOptions) {
  auto env = base();
  env["DATABASE_URL"] = "postgresql://u:p@db.local:6000/shop?options=-c%20search_path%3Dshop";
  const auto s = load_settings(env)
                     .postgres.with_session_setting("synchronous_commit", "off")
                     .with_session_setting("order_service.relay_wakeup", "after_commit");
  const std::string last =
      " options='-c search_path=shop -c synchronous_commit=off -c "
      "order_service.relay_wakeup=after_commit'";
  ASSERT_GE(s.conninfo.size(), last.size());
  EXPECT_EQ(s.conninfo.substr(s.conninfo.size() - last.size()), last) << s.conninfo;
  EXPECT_NE(s.conninfo.find("password='p'"), std::string::npos);
  // Without options in the URL: only the added ones.
  const auto plain = load_settings(base()).postgres.with_session_setting("a.b", "c");
  EXPECT_EQ(plain.options, "-c a.b=c");
}

TEST(Config, ListsAcceptJsonOrCommas) {
  auto env = base();
  env["CORS_ALLOW_ORIGINS"] = R"(["http://a.test","http://b.test"])";
  EXPECT_EQ(load_settings(env).cors.origins.size(), 2u);
  env["CORS_ALLOW_ORIGINS"] = "http://a.test, http://b.test";
  EXPECT_EQ(load_settings(env).cors.origins[1], "http://b.test");
}

// Cluster settings: host lists, libpq multi-host URLs, Sentinel, quorum.
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

TEST(Config, AlgorithmIsHs256Only) {
  EXPECT_EQ(failing_variable(with({{"ALGORITHM", "HS256"}})), "");
  for (const char* other : {"none", "hs256", "HS512", "RS256", "HS256 "}) {
    EXPECT_EQ(failing_variable(with({{"ALGORITHM", other}})), "ALGORITHM") << other;
  }
}

// The member initialisers in settings.hpp are the defaults: nothing else restates them.
TEST(Config, UnsetVariablesKeepTheDeclaredDefaults) {
  const Settings declared;
  for (const auto& env : {base(), with({{"API_PORT", ""},
                                        {"OUTBOX_POLL_SECONDS", ""},
                                        {"LOG_FORMAT", ""},
                                        {"CORS_ALLOW_ORIGINS", ""}})}) {
    const auto s = load_settings(env);
    EXPECT_EQ(s.app_name, declared.app_name);
    EXPECT_EQ(s.log_level, declared.log_level);
    EXPECT_EQ(s.log_format, declared.log_format);
    EXPECT_EQ(s.access_token_ttl, declared.access_token_ttl);
    EXPECT_EQ(s.http.port, declared.http.port);
    EXPECT_EQ(s.http.max_body_bytes, declared.http.max_body_bytes);
    EXPECT_EQ(s.cors.origins, declared.cors.origins);
    EXPECT_EQ(s.rate_limit.backend, declared.rate_limit.backend);
    EXPECT_EQ(s.rate_limit.capacity, declared.rate_limit.capacity);
    EXPECT_EQ(s.postgres.pool_size, declared.postgres.pool_size);
    EXPECT_EQ(s.postgres.connect_timeout, declared.postgres.connect_timeout);
    EXPECT_EQ(s.redis.cache.host, declared.redis.cache.host);
    EXPECT_EQ(s.redis.cache.port, declared.redis.cache.port);
    EXPECT_EQ(s.redis.timeout, declared.redis.timeout);
    EXPECT_EQ(s.rabbit.hosts, declared.rabbit.hosts);
    EXPECT_EQ(s.rabbit.queue_type, declared.rabbit.queue_type);
    EXPECT_EQ(s.rabbit.timeout, declared.rabbit.timeout);
    EXPECT_EQ(s.outbox.poll_interval, declared.outbox.poll_interval);
    EXPECT_EQ(s.retention.outbox, declared.retention.outbox);
    EXPECT_EQ(s.retention.interval, declared.retention.interval);
    EXPECT_EQ(s.tasks.visibility_timeout, declared.tasks.visibility_timeout);
    EXPECT_EQ(s.tasks.dead_stream, declared.tasks.dead_stream);
    EXPECT_EQ(s.tasks.process_order_delay, declared.tasks.process_order_delay);
    EXPECT_EQ(s.retention.inbox, declared.retention.inbox);
    EXPECT_EQ(s.reconcile.batch_size, declared.reconcile.batch_size);
  }
}

TEST(Config, UnitsAndFractions) {
  const auto s = load_settings(with({{"OUTBOX_POLL_SECONDS", "0.5"},
                                     {"INBOX_RETENTION_HOURS", "0.5"},
                                     {"REDIS_TIMEOUT_MS", "250"},
                                     {"OUTBOX_RETENTION_HOURS", "0.01"},
                                     {"TASK_VISIBILITY_TIMEOUT_SECONDS", "7.5"},
                                     {"RECONCILE_AFTER_SECONDS", "1.5"},
                                     {"RECONCILE_INTERVAL_SECONDS", "0.5"},
                                     {"HOUSEKEEPING_INTERVAL_SECONDS", "0.25"},
                                     {"TASK_STREAM", "tasks:x"},
                                     {"LOG_FORMAT", "TEXT"}}));
  EXPECT_EQ(s.outbox.poll_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(s.retention.inbox, std::chrono::seconds(1800));
  EXPECT_EQ(s.redis.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(s.retention.outbox, std::chrono::seconds(36));
  EXPECT_EQ(s.tasks.visibility_timeout, std::chrono::milliseconds(7500));
  EXPECT_EQ(s.retention.reconcile_marks, std::chrono::seconds(15));
  EXPECT_EQ(s.reconcile.after, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.reconcile.interval, std::chrono::milliseconds(500));
  EXPECT_EQ(s.retention.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(s.tasks.dead_stream, "tasks:x:dead");
  EXPECT_EQ(s.log_format, LogFormat::Text);
  EXPECT_EQ(failing_variable(with({{"OUTBOX_POLL_SECONDS", "0.001"}})), "OUTBOX_POLL_SECONDS");
}

// SPEC §6: every time setting (*_SECONDS, *_HOURS) takes fractions.
TEST(Config, EveryTimeSettingTakesFractions) {
  for (const char* name : {"OUTBOX_POLL_SECONDS",
                           "OUTBOX_LEASE_SECONDS",
                           "OUTBOX_MAX_BACKOFF_SECONDS",
                           "OUTBOX_RETENTION_HOURS",
                           "INBOX_RETENTION_HOURS",
                           "TASK_RUNS_RETENTION_HOURS",
                           "HOUSEKEEPING_INTERVAL_SECONDS",
                           "TASK_VISIBILITY_TIMEOUT_SECONDS",
                           "TASK_RETRY_MAX_BACKOFF_SECONDS",
                           "RECONCILE_AFTER_SECONDS",
                           "RECONCILE_INTERVAL_SECONDS",
                           "REDIS_ORDERS_TTL_SECONDS",
                           "RABBITMQ_TIMEOUT_SECONDS",
                           "RABBITMQ_HEARTBEAT_SECONDS",
                           "RABBITMQ_CONSUMER_RETRY_BASE_SECONDS",
                           "POSTGRES_CONNECT_TIMEOUT_SECONDS",
                           "POSTGRES_QUERY_TIMEOUT_SECONDS",
                           "HTTP_READ_TIMEOUT_SECONDS",
                           "SHUTDOWN_GRACE_SECONDS",
                           "AUTH_USER_CACHE_SECONDS"}) {
    EXPECT_EQ(failing_variable(with({{name, "2.5"}})), "") << name << "=2.5 refused";
  }
  const auto s = load_settings(with({{"OUTBOX_LEASE_SECONDS", "1.5"},
                                     {"SHUTDOWN_GRACE_SECONDS", "2.5"},
                                     {"HTTP_READ_TIMEOUT_SECONDS", "0.5"},
                                     {"RABBITMQ_HEARTBEAT_SECONDS", "1.5"}}));
  EXPECT_EQ(s.outbox.lease, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.http.shutdown_grace, std::chrono::milliseconds(2500));
  EXPECT_EQ(s.http.read_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(s.rabbit.heartbeat, std::chrono::milliseconds(1500));
}

namespace {
// A file in the test's temporary directory holding `content`; removed at scope end.
struct TempFile {
  explicit TempFile(const std::string& content, const std::string& name = "secret") {
    path = ::testing::TempDir() + "config_test_" + name + "_" + std::to_string(::getpid());
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

std::string failure_text(const EnvMap& env) {
  try {
    load_settings(env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(ConfigSecretFiles, EverySecretCanComeFromAFileWithOneTrailingNewlineStripped) {
  const TempFile key("4f7c1a9e2b6d8035cafe1d2e3f4a5b6c-from-file\n", "key");
  const TempFile pg("pg pass\n\n", "pg");  // only one newline is stripped
  const TempFile redis("redis-pass\r\n", "redis");
  const TempFile rabbit("rabbit-pass", "rabbit");
  const auto s = load_settings({{"SECRET_KEY_FILE", key.path},
                                {"POSTGRES_PASSWORD_FILE", pg.path},
                                {"REDIS_PASSWORD_FILE", redis.path},
                                {"RABBITMQ_PASSWORD_FILE", rabbit.path}});
  EXPECT_EQ(s.secret_key, "4f7c1a9e2b6d8035cafe1d2e3f4a5b6c-from-file");
  EXPECT_NE(s.postgres.conninfo.find("password='pg pass\n'"), std::string::npos);
  EXPECT_EQ(s.redis.cache.password, "redis-pass");
  EXPECT_EQ(s.redis.tasks.password, "redis-pass");
  EXPECT_EQ(s.rabbit.password, "rabbit-pass");
}

TEST(ConfigSecretFiles, TheSecretKeyFromAFileIsCheckedAsAnyOther) {
  const TempFile short_key("too-short\n", "short");
  const TempFile placeholder(std::string(kSecretKeyPlaceholder) + "\n", "placeholder");
  const TempFile low_entropy(std::string(40, 'x'), "entropy");
  const TempFile empty("\n", "empty");
  for (const auto* file : {&short_key, &placeholder, &low_entropy, &empty}) {
    EXPECT_EQ(failing_variable({{"SECRET_KEY_FILE", file->path}}), "SECRET_KEY") << file->path;
  }
}

TEST(ConfigSecretFiles, BothTheVariableAndItsFileIsAnErrorNamingBoth) {
  const TempFile key("4f7c1a9e2b6d8035cafe1d2e3f4a5b6c\n", "both");
  const auto text = failure_text(
      {{"SECRET_KEY", "4f7c1a9e2b6d8035cafe1d2e3f4a5b6c"}, {"SECRET_KEY_FILE", key.path}});
  EXPECT_NE(text.find("SECRET_KEY_FILE"), std::string::npos) << text;
  EXPECT_NE(text.find("SECRET_KEY;"), std::string::npos) << text;
  EXPECT_EQ(failing_variable(with({{"REDIS_PASSWORD", "x"}, {"REDIS_PASSWORD_FILE", key.path}})),
            "REDIS_PASSWORD_FILE");
}

TEST(ConfigSecretFiles, AnUnreadableFileNamesTheVariableAndThePathNeverTheSecret) {
  const std::string missing = ::testing::TempDir() + "config_test_no_such_file";
  const auto text = failure_text(with({{"POSTGRES_PASSWORD_FILE", missing}}));
  EXPECT_EQ(failing_variable(with({{"POSTGRES_PASSWORD_FILE", missing}})),
            "POSTGRES_PASSWORD_FILE");
  EXPECT_NE(text.find(missing), std::string::npos) << text;
  // A directory cannot be read as a file either.
  EXPECT_EQ(failing_variable(with({{"RABBITMQ_PASSWORD_FILE", ::testing::TempDir()}})),
            "RABBITMQ_PASSWORD_FILE");
  // A secret that is not good enough is refused without being shown.
  const TempFile weak("weak-but-secret-value", "weak");
  const auto weak_text = failure_text({{"SECRET_KEY_FILE", weak.path}});
  EXPECT_NE(weak_text.find("SECRET_KEY"), std::string::npos);
  EXPECT_EQ(weak_text.find("weak-but-secret-value"), std::string::npos) << weak_text;
}

TEST(ConfigRedisTls, RedissUrlsTurnTlsOnWithAclUsersAndTheCaFile) {
  const TempFile ca("not parsed at startup", "ca");
  const auto s = load_settings(with({{"REDIS_URL", "rediss://orders:p%40ss@cache.internal:6380/2"},
                                     {"CELERY_BROKER_URL", "redis://queue:6379/0"},
                                     {"REDIS_TLS_CA_FILE", ca.path}}));
  EXPECT_TRUE(s.redis.cache.tls.enabled);
  EXPECT_EQ(s.redis.cache.tls.ca_file, ca.path);
  EXPECT_EQ(s.redis.cache.user, "orders");
  EXPECT_EQ(s.redis.cache.password, "p@ss");
  EXPECT_EQ(s.redis.cache.host, "cache.internal");
  EXPECT_EQ(s.redis.cache.db, 2);
  EXPECT_FALSE(s.redis.tasks.tls.enabled);
  EXPECT_TRUE(s.redis.tasks.tls.ca_file.empty());
  // Without CELERY_BROKER_URL the task queue is the cache Redis, TLS included.
  const auto same = load_settings(with({{"REDIS_URL", "rediss://h:1/0"}}));
  EXPECT_TRUE(same.redis.tasks.tls.enabled);
  EXPECT_FALSE(load_settings(base()).redis.cache.tls.enabled);
}

TEST(ConfigRedisTls, PasswordFromTheEnvironmentFillsUrlsWithoutOne) {
  const auto s = load_settings(with({{"REDIS_URL", "rediss://svc@h:1/0"},
                                     {"CELERY_BROKER_URL", "redis://:own@q:2/0"},
                                     {"REDIS_PASSWORD", "shared"}}));
  EXPECT_EQ(s.redis.cache.user, "svc");
  EXPECT_EQ(s.redis.cache.password, "shared");
  EXPECT_EQ(s.redis.tasks.password, "own");
}

TEST(ConfigRedisTls, TlsFilesWithoutTlsOrMissingAreRefused) {
  const TempFile ca("x", "ca2");
  // The operator meant TLS: no silent plaintext.
  EXPECT_EQ(failing_variable(with({{"REDIS_TLS_CA_FILE", ca.path}})), "REDIS_TLS_CA_FILE");
  EXPECT_EQ(failing_variable(with(
                {{"REDIS_URL", "rediss://h:1/0"}, {"REDIS_TLS_CA_FILE", "/nonexistent/ca.pem"}})),
            "REDIS_TLS_CA_FILE");
  EXPECT_EQ(
      failing_variable(with({{"REDIS_URL", "rediss://h:1/0"}, {"REDIS_TLS_CERT_FILE", ca.path}})),
      "REDIS_TLS_KEY_FILE");
  EXPECT_EQ(failing_variable(with({{"REDIS_URL", "http://h:1/0"}})), "REDIS_URL");
}

TEST(ConfigRabbitTls, OffByDefaultOnWithCaAndClientCertificate) {
  EXPECT_FALSE(load_settings(base()).rabbit.tls.enabled);
  const TempFile ca("x", "rca");
  const TempFile cert("x", "rcert");
  const TempFile key("x", "rkey");
  const auto s = load_settings(with({{"RABBITMQ_TLS", "true"},
                                     {"RABBITMQ_HOSTS", "a:5671,b:5671"},
                                     {"RABBITMQ_TLS_CA_FILE", ca.path},
                                     {"RABBITMQ_TLS_CERT_FILE", cert.path},
                                     {"RABBITMQ_TLS_KEY_FILE", key.path}}));
  EXPECT_TRUE(s.rabbit.tls.enabled);
  EXPECT_EQ(s.rabbit.tls.ca_file, ca.path);
  EXPECT_EQ(s.rabbit.tls.cert_file, cert.path);
  EXPECT_EQ(s.rabbit.tls.key_file, key.path);
  EXPECT_EQ(failing_variable(with({{"RABBITMQ_TLS_CA_FILE", ca.path}})), "RABBITMQ_TLS_CA_FILE");
  EXPECT_EQ(failing_variable(with({{"RABBITMQ_TLS", "sure"}})), "RABBITMQ_TLS");
}

TEST(ConfigPostgresTls, SslParametersOfTheUrlReachLibpq) {
  const auto s = load_settings(
      with({{"DATABASE_URL",
             "postgresql://u:p@db.internal:5432/orders?sslmode=verify-full&sslrootcert=/ca.pem"}}));
  EXPECT_NE(s.postgres.conninfo.find("sslmode='verify-full'"), std::string::npos);
  EXPECT_NE(s.postgres.conninfo.find("sslrootcert='/ca.pem'"), std::string::npos);
  // Without them the conninfo names no sslmode: libpq's PGSSLMODE/PGSSLROOTCERT apply.
  const auto plain = load_settings(base());
  EXPECT_EQ(plain.postgres.conninfo.find("ssl"), std::string::npos);
}

TEST(Config, MetricsOnApiPortByDefault) {
  EXPECT_TRUE(load_settings(base()).metrics_on_api_port);
  EXPECT_FALSE(load_settings(with({{"METRICS_ON_API_PORT", "false"}})).metrics_on_api_port);
}
