#include "config/settings.hpp"

#include <gtest/gtest.h>

using namespace os::config;

namespace {
EnvMap base() {
  return {{"SECRET_KEY", "4f7c1a9e2b6d8035cafe1d2e3f4a5b6c"}};
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
  EXPECT_EQ(s.redis.orders_ttl.count(), 300);
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
  EXPECT_EQ(failing_variable({{"SECRET_KEY", "0123456789012345678901234567890123"}}), "");
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

TEST(Config, ListsAcceptJsonOrCommas) {
  auto env = base();
  env["CORS_ALLOW_ORIGINS"] = R"(["http://a.test","http://b.test"])";
  EXPECT_EQ(load_settings(env).cors.origins.size(), 2u);
  env["CORS_ALLOW_ORIGINS"] = "http://a.test, http://b.test";
  EXPECT_EQ(load_settings(env).cors.origins[1], "http://b.test");
}
