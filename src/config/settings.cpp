#include "config/settings.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cmath>

#include "domain/ip_networks.hpp"
#include "domain/text.hpp"

namespace os::config {
namespace {

std::size_t distinct_bytes(std::string_view s) {
  bool seen[256] = {};
  std::size_t n = 0;
  for (unsigned char c : s) {
    if (!seen[c]) ++n;
    seen[c] = true;
  }
  return n;
}

class Reader {
 public:
  explicit Reader(const EnvMap& env) : env_(env) {}

  const std::string* raw(const std::string& name) const {
    auto it = env_.find(name);
    return it == env_.end() || it->second.empty() ? nullptr : &it->second;
  }

  std::string text(const std::string& name, std::string fallback) const {
    const auto* v = raw(name);
    return v ? *v : std::move(fallback);
  }

  long long integer(const std::string& name, long long fallback, long long min,
                    long long max) const {
    const auto* v = raw(name);
    if (v == nullptr) return fallback;
    long long out = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc{} || p != v->data() + v->size()) {
      throw ConfigError(name, "must be an integer, got '" + *v + "'");
    }
    if (out < min || out > max) {
      throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                  std::to_string(max) + ", got " + *v);
    }
    return out;
  }

  double number(const std::string& name, double fallback, double min, double max) const {
    const auto* v = raw(name);
    if (v == nullptr) return fallback;
    double out = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc{} || p != v->data() + v->size() || !std::isfinite(out)) {
      throw ConfigError(name, "must be a number, got '" + *v + "'");
    }
    if (out < min || out > max) {
      throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                  std::to_string(max) + ", got " + *v);
    }
    return out;
  }

  bool boolean(const std::string& name, bool fallback) const {
    const auto* v = raw(name);
    if (v == nullptr) return fallback;
    std::string lower = *v;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
    if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
    throw ConfigError(name, "must be true or false, got '" + *v + "'");
  }

  std::string choice(const std::string& name, std::string fallback,
                     const std::vector<std::string>& allowed) const {
    auto value = text(name, std::move(fallback));
    std::transform(value.begin(), value.end(), value.begin(), ::tolower);
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw ConfigError(name, "must be one of " + list + ", got '" + value + "'");
    }
    return value;
  }

  // Comma-separated, or a JSON list as in the original's .env.example.
  std::vector<std::string> list(const std::string& name, std::vector<std::string> fallback) const {
    const auto* v = raw(name);
    if (v == nullptr) return fallback;
    std::vector<std::string> out;
    if (!v->empty() && v->front() == '[') {
      boost::system::error_code ec;
      auto parsed = boost::json::parse(*v, ec);
      if (ec || !parsed.is_array()) throw ConfigError(name, "is not a valid JSON list");
      for (const auto& item : parsed.as_array()) {
        if (!item.is_string()) throw ConfigError(name, "must list strings");
        out.emplace_back(item.as_string());
      }
      return out;
    }
    std::size_t start = 0;
    while (start <= v->size()) {
      auto end = v->find(',', start);
      if (end == std::string::npos) end = v->size();
      auto item = domain::trim(std::string_view(*v).substr(start, end - start));
      if (!item.empty()) out.push_back(item);
      start = end + 1;
    }
    return out;
  }

 private:
  const EnvMap& env_;
};

std::string quote_conninfo(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

PostgresSettings load_postgres(const Reader& r) {
  PostgresSettings pg;
  const int default_port = static_cast<int>(r.integer("POSTGRES_PORT", 5432, 1, 65535));
  // libpq's multi-host syntax: POSTGRES_HOST=h1,h2:5433 (or several hosts in DATABASE_URL).
  auto hosts =
      parse_host_ports("POSTGRES_HOST", r.text("POSTGRES_HOST", "127.0.0.1"), default_port);
  std::string db = r.text("POSTGRES_DB", "orders");
  std::string user = r.text("POSTGRES_USER", "orders");
  std::string password = r.text("POSTGRES_PASSWORD", "");
  std::map<std::string, std::string> parameters;
  if (const auto* url = r.raw("DATABASE_URL")) {
    auto parsed = parse_postgres_url("DATABASE_URL", *url, default_port);
    if (!parsed.hosts.empty()) hosts = std::move(parsed.hosts);
    if (parsed.has_user) user = parsed.user;
    if (parsed.has_password) password = parsed.password;
    if (!parsed.dbname.empty()) db = parsed.dbname;
    parameters = std::move(parsed.parameters);
    if (auto it = parameters.find("password"); it != parameters.end()) {
      password = it->second;
      parameters.erase(it);
    }
  }
  // With several hosts, connect only to the one that accepts writes (the primary).
  if (hosts.size() > 1) parameters.try_emplace("target_session_attrs", "read-write");
  pg.pool_size = static_cast<int>(r.integer("POSTGRES_POOL_SIZE", 16, 1, 256));
  pg.connect_timeout = std::chrono::milliseconds(
      static_cast<long long>(1000 * r.number("POSTGRES_CONNECT_TIMEOUT_SECONDS", 3, 0.1, 600)));
  pg.query_timeout = std::chrono::milliseconds(
      static_cast<long long>(1000 * r.number("POSTGRES_QUERY_TIMEOUT_SECONDS", 5, 0.1, 3600)));
  std::vector<std::string> host_names;
  std::vector<std::string> ports;
  for (const auto& h : hosts) {
    host_names.push_back(h.host);
    ports.push_back(std::to_string(h.port));
  }
  const auto host_list = domain::join(host_names, ",");
  const auto port_list = domain::join(ports, ",");
  pg.display = "host=" + host_list + " port=" + port_list + " dbname=" + db + " user=" + user;
  pg.conninfo = "host=" + quote_conninfo(host_list) + " port=" + quote_conninfo(port_list) +
                " dbname=" + quote_conninfo(db) + " user=" + quote_conninfo(user) +
                " application_name='order-service'";
  for (const auto& [key, value] : parameters) {
    pg.conninfo += " " + key + "=" + quote_conninfo(value);
    pg.display += " " + key + "=" + value;
  }
  if (!password.empty()) pg.conninfo += " password=" + quote_conninfo(password);
  return pg;
}

RedisEndpoint parse_redis_url(const std::string& name, const std::string& value) {
  auto parsed = boost::urls::parse_uri(value);
  if (!parsed || (parsed->scheme() != "redis")) {
    throw ConfigError(name, "must be a redis://host:port/db URL");
  }
  RedisEndpoint ep;
  if (!parsed->host().empty()) ep.host = parsed->host_address();
  if (parsed->has_port()) ep.port = parsed->port_number();
  if (parsed->has_password()) ep.password = parsed->password();
  std::string path = parsed->path();
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  if (!path.empty()) {
    auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), ep.db);
    if (ec != std::errc{} || p != path.data() + path.size() || ep.db < 0 || ep.db > 15) {
      throw ConfigError(name, "has an invalid database number '" + path + "'");
    }
  }
  if (ep.port <= 0 || ep.port > 65535) throw ConfigError(name, "has an invalid port");
  return ep;
}

// Sentinel mode for one Redis: the primary's address comes from the Sentinels.
void follow_sentinels(const Reader& r, const std::string& sentinels_var,
                      const std::string& master_var, RedisEndpoint& endpoint) {
  const auto* sentinels = r.raw(sentinels_var);
  if (sentinels == nullptr) {
    if (r.raw(master_var) != nullptr) {
      throw ConfigError(master_var, "needs " + sentinels_var + " (the Sentinels to ask)");
    }
    return;
  }
  endpoint.sentinels = parse_host_ports(sentinels_var, *sentinels, 26379);
  endpoint.master_name = r.text(master_var, "mymaster");
  if (endpoint.master_name.find_first_of(" \t\r\n") != std::string::npos) {
    throw ConfigError(master_var, "must not contain whitespace");
  }
}

RedisSettings load_redis(const Reader& r) {
  RedisSettings redis;
  if (const auto* url = r.raw("REDIS_URL")) {
    redis.cache = parse_redis_url("REDIS_URL", *url);
  } else {
    redis.cache.host = r.text("REDIS_HOST", "127.0.0.1");
    redis.cache.port = static_cast<int>(r.integer("REDIS_PORT", 6379, 1, 65535));
    redis.cache.db = static_cast<int>(r.integer("REDIS_DB", 0, 0, 15));
    redis.cache.password = r.text("REDIS_PASSWORD", "");
  }
  follow_sentinels(r, "REDIS_SENTINELS", "REDIS_MASTER_NAME", redis.cache);
  redis.tasks = redis.cache;
  if (const auto* url = r.raw("CELERY_BROKER_URL")) {
    redis.tasks = parse_redis_url("CELERY_BROKER_URL", *url);
  }
  follow_sentinels(r, "TASK_REDIS_SENTINELS", "TASK_REDIS_MASTER_NAME", redis.tasks);
  redis.orders_ttl =
      std::chrono::seconds(r.integer("REDIS_ORDERS_TTL_SECONDS", 300, 1, 86400 * 30));
  redis.timeout = std::chrono::milliseconds(r.integer("REDIS_TIMEOUT_MS", 100, 1, 60000));
  redis.breaker_open =
      std::chrono::milliseconds(r.integer("REDIS_BREAKER_OPEN_MS", 5000, 10, 600000));
  return redis;
}

RabbitSettings load_rabbit(const Reader& r) {
  RabbitSettings rabbit;
  const int port = static_cast<int>(r.integer("RABBITMQ_PORT", 5672, 1, 65535));
  const auto* hosts = r.raw("RABBITMQ_HOSTS");
  rabbit.hosts =
      hosts ? parse_host_ports("RABBITMQ_HOSTS", *hosts, port)
            : parse_host_ports("RABBITMQ_HOST", r.text("RABBITMQ_HOST", "127.0.0.1"), port);
  rabbit.queue_type = r.choice("RABBITMQ_QUEUE_TYPE", "quorum", {"quorum", "classic"}) == "quorum"
                          ? QueueType::Quorum
                          : QueueType::Classic;
  rabbit.user = r.text("RABBITMQ_USER", rabbit.user);
  rabbit.password = r.text("RABBITMQ_PASSWORD", rabbit.password);
  rabbit.vhost = r.text("RABBITMQ_VHOST", rabbit.vhost);
  rabbit.exchange = r.text("RABBITMQ_EXCHANGE", rabbit.exchange);
  rabbit.new_order_queue = r.text("RABBITMQ_NEW_ORDER_QUEUE", rabbit.new_order_queue);
  rabbit.routing_key = r.text("RABBITMQ_NEW_ORDER_ROUTING_KEY", rabbit.routing_key);
  rabbit.consumer_max_retries =
      static_cast<int>(r.integer("RABBITMQ_CONSUMER_MAX_RETRIES", 5, 0, 100));
  rabbit.consumer_retry_base_seconds =
      r.number("RABBITMQ_CONSUMER_RETRY_BASE_SECONDS", 1.0, 0.001, 3600);
  rabbit.prefetch = static_cast<int>(r.integer("RABBITMQ_PREFETCH", 32, 1, 65535));
  rabbit.timeout = std::chrono::milliseconds(
      static_cast<long long>(1000 * r.number("RABBITMQ_TIMEOUT_SECONDS", 5, 0.1, 600)));
  rabbit.heartbeat_seconds = static_cast<int>(r.integer("RABBITMQ_HEARTBEAT_SECONDS", 30, 0, 3600));
  return rabbit;
}

}  // namespace

Settings load_settings(const EnvMap& env) {
  const Reader r(env);
  Settings s;
  s.app_name = r.text("APP_NAME", s.app_name);
  s.log_level = r.choice("LOG_LEVEL", "info",
                         {"trace", "debug", "info", "warning", "warn", "error", "critical"});
  s.log_format = r.choice("LOG_FORMAT", "json", {"json", "text"}) == "json" ? LogFormat::Json
                                                                            : LogFormat::Text;
  s.run_migrations_on_startup = r.boolean("RUN_MIGRATIONS_ON_STARTUP", false);

  const auto* secret = r.raw("SECRET_KEY");
  if (secret == nullptr) throw ConfigError("SECRET_KEY", "is required (at least 32 characters)");
  if (secret->size() < 32) {
    throw ConfigError("SECRET_KEY",
                      "must be at least 32 characters, got " + std::to_string(secret->size()));
  }
  if (*secret == kSecretKeyPlaceholder) {
    throw ConfigError("SECRET_KEY",
                      "is the public placeholder from .env.example: anyone could sign tokens; "
                      "generate one, e.g. `head -c 32 /dev/urandom | base64`");
  }
  if (distinct_bytes(*secret) < kMinSecretKeyDistinctBytes) {
    throw ConfigError("SECRET_KEY", "has too little entropy (only " +
                                        std::to_string(distinct_bytes(*secret)) +
                                        " distinct characters); generate one, e.g. "
                                        "`head -c 32 /dev/urandom | base64`");
  }
  s.secret_key = *secret;
  s.algorithm = r.text("ALGORITHM", "HS256");
  if (s.algorithm != "HS256") throw ConfigError("ALGORITHM", "only HS256 is supported");
  s.access_token_ttl =
      std::chrono::minutes(r.integer("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1, 60 * 24 * 30));

  s.metrics_port = static_cast<int>(r.integer("METRICS_PORT", 0, 0, 65535));
  s.auth_user_cache = std::chrono::seconds(r.integer("AUTH_USER_CACHE_SECONDS", 60, 0, 3600));
  s.http.host = r.text("API_HOST", s.http.host);
  s.http.port = static_cast<int>(r.integer("API_PORT", 8000, 0, 65535));
  s.http.threads = static_cast<int>(r.integer("API_THREADS", 0, 0, 256));
  s.http.max_body_bytes =
      static_cast<std::size_t>(r.integer("HTTP_MAX_BODY_BYTES", 1 << 20, 1024, 1LL << 30));
  s.http.max_header_bytes =
      static_cast<std::size_t>(r.integer("HTTP_MAX_HEADER_BYTES", 16 << 10, 1024, 1 << 20));
  s.http.read_timeout = std::chrono::seconds(r.integer("HTTP_READ_TIMEOUT_SECONDS", 30, 1, 3600));
  s.http.shutdown_grace = std::chrono::seconds(r.integer("SHUTDOWN_GRACE_SECONDS", 10, 0, 3600));
  s.http.max_connections = static_cast<int>(r.integer("HTTP_MAX_CONNECTIONS", 10000, 1, 1'000'000));
  s.http.swagger_ui_dir = r.text("SWAGGER_UI_DIR", "");

  s.cors.origins = r.list("CORS_ALLOW_ORIGINS", {"*"});
  s.cors.methods = r.list("CORS_ALLOW_METHODS", {"*"});
  s.cors.headers = r.list("CORS_ALLOW_HEADERS", {"*"});
  s.cors.credentials = r.boolean("CORS_ALLOW_CREDENTIALS", false);
  if (s.cors.credentials &&
      std::find(s.cors.origins.begin(), s.cors.origins.end(), "*") != s.cors.origins.end()) {
    throw ConfigError("CORS_ALLOW_CREDENTIALS",
                      "cannot be true while CORS_ALLOW_ORIGINS contains '*' (browsers reject "
                      "credentialed wildcard responses); list the origins explicitly");
  }

  s.rate_limit.enabled = r.boolean("RATE_LIMIT_ENABLED", true);
  s.rate_limit.backend = r.choice("RATE_LIMIT_BACKEND", "redis", {"redis", "memory"}) == "redis"
                             ? RateLimitBackend::Redis
                             : RateLimitBackend::Memory;
  s.rate_limit.capacity = r.number("RATE_LIMIT_CAPACITY", 100, 1, 1e9);
  s.rate_limit.refill_per_second = r.number("RATE_LIMIT_REFILL_RATE", 20, 0.001, 1e9);
  s.rate_limit.trusted_proxies = r.list("TRUSTED_PROXIES", {});
  std::string bad_proxy;
  if (!domain::IpNetworks::parse(s.rate_limit.trusted_proxies, &bad_proxy)) {
    throw ConfigError("TRUSTED_PROXIES",
                      "'" + bad_proxy + "' is not an IP address or CIDR range (e.g. 10.0.0.0/8)");
  }

  s.postgres = load_postgres(r);
  s.redis = load_redis(r);
  s.rabbit = load_rabbit(r);

  s.outbox.poll_interval = std::chrono::milliseconds(
      static_cast<long long>(1000 * r.number("OUTBOX_POLL_SECONDS", 5, 0.01, 3600)));
  s.outbox.batch_size = static_cast<int>(r.integer("OUTBOX_BATCH_SIZE", 100, 1, 10000));
  s.outbox.lease = std::chrono::seconds(r.integer("OUTBOX_LEASE_SECONDS", 30, 1, 3600));
  s.outbox.retention = std::chrono::hours(r.integer("OUTBOX_RETENTION_HOURS", 168, 1, 24 * 365));
  s.outbox.max_backoff =
      std::chrono::seconds(r.integer("OUTBOX_MAX_BACKOFF_SECONDS", 300, 1, 86400));

  s.tasks.concurrency = static_cast<int>(r.integer("WORKER_CONCURRENCY", 64, 1, 10000));
  s.tasks.visibility_timeout =
      std::chrono::seconds(r.integer("TASK_VISIBILITY_TIMEOUT_SECONDS", 30, 1, 86400));
  s.tasks.max_attempts = static_cast<int>(r.integer("TASK_MAX_ATTEMPTS", 5, 1, 100));
  s.tasks.retry_max_backoff = std::chrono::milliseconds(
      static_cast<long long>(1000 * r.number("TASK_RETRY_MAX_BACKOFF_SECONDS", 10, 0.01, 3600)));
  s.reconcile.after =
      std::chrono::seconds(r.integer("RECONCILE_AFTER_SECONDS", 300, 1, 30 * 86400));
  s.reconcile.interval =
      std::chrono::seconds(r.integer("RECONCILE_INTERVAL_SECONDS", 60, 1, 86400));
  s.retention.inbox = std::chrono::seconds(
      static_cast<long long>(3600 * r.number("INBOX_RETENTION_HOURS", 168, 0.0003, 24 * 3650)));
  s.retention.task_runs = std::chrono::seconds(
      static_cast<long long>(3600 * r.number("TASK_RUNS_RETENTION_HOURS", 168, 0.0003, 24 * 3650)));
  s.reconcile.batch_size = static_cast<int>(r.integer("RECONCILE_BATCH_SIZE", 500, 1, 100000));
  s.tasks.process_order_delay = std::chrono::milliseconds(
      static_cast<long long>(1000 * r.number("PROCESS_ORDER_DELAY_SECONDS", 2, 0, 3600)));
  s.tasks.stream = r.text("TASK_STREAM", s.tasks.stream);
  s.tasks.dead_stream = s.tasks.stream + ":dead";
  if (s.tasks.process_order_delay >= s.tasks.visibility_timeout) {
    throw ConfigError("TASK_VISIBILITY_TIMEOUT_SECONDS",
                      "must be longer than PROCESS_ORDER_DELAY_SECONDS, or running tasks "
                      "would be reclaimed by other workers");
  }
  return s;
}

}  // namespace os::config
