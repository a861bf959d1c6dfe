#include "config/settings.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

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

// A secret `NAME` may come from the file that `NAME_FILE` names (Docker and Kubernetes
// secrets): read once here, one trailing newline stripped, so that every reader of NAME
// (and its checks) sees the file's content as NAME's value.
std::string read_secret_file(const std::string& variable, const std::string& path) {
  auto fail = [&](int error) {
    return ConfigError(variable, "cannot read the file '" + path + "': " + std::strerror(error));
  };
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw fail(errno);
  std::string content;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) content.append(buffer, n);
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) throw fail(error);
  if (!content.empty() && content.back() == '\n') {
    content.pop_back();
    if (!content.empty() && content.back() == '\r') content.pop_back();
  }
  return content;
}

EnvMap with_secret_files(const EnvMap& env) {
  EnvMap out = env;
  for (const auto name : kSecretFileVariables) {
    const std::string variable(name);
    const std::string file_variable = variable + "_FILE";
    const auto file = env.find(file_variable);
    if (file == env.end() || file->second.empty()) continue;
    if (const auto direct = env.find(variable); direct != env.end() && !direct->second.empty()) {
      throw ConfigError(file_variable, "cannot be set together with " + variable + "; set one");
    }
    out[variable] = read_secret_file(file_variable, file->second);
  }
  return out;
}

class Reader {
 public:
  explicit Reader(const EnvMap& env) : env_(with_secret_files(env)) {}

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
      throw ConfigError(name,
                        "must be one of " + domain::join(allowed, ", ") + ", got '" + value + "'");
    }
    return value;
  }

  // The setters below leave `field` alone when the variable is unset: its member
  // initialiser in settings.hpp is the one place a default is written.
  void set(const std::string& name, std::string& field) const { field = text(name, field); }
  template <typename Int>
  void set_integer(const std::string& name, Int& field, long long min, long long max) const {
    field = static_cast<Int>(integer(name, static_cast<long long>(field), min, max));
  }
  void set_number(const std::string& name, double& field, double min, double max) const {
    field = number(name, field, min, max);
  }
  void set_boolean(const std::string& name, bool& field) const { field = boolean(name, field); }
  // An integer count of the field's own unit (REDIS_TIMEOUT_MS into milliseconds).
  template <typename Rep, typename Period>
  void set_count(const std::string& name, std::chrono::duration<Rep, Period>& field, long long min,
                 long long max) const {
    field = std::chrono::duration<Rep, Period>(integer(name, field.count(), min, max));
  }
  // A number of `Unit`s, fractions allowed, into the field's finer unit
  // (OUTBOX_POLL_SECONDS=0.5 into milliseconds); `min` and `max` are in `Unit`s.
  template <typename Unit, typename Field>
  void set_fraction(const std::string& name, Field& field, double min, double max) const {
    if (raw(name) == nullptr) return;
    constexpr double kFieldsPerUnit =
        static_cast<double>(std::ratio_divide<typename Unit::period, typename Field::period>::num) /
        std::ratio_divide<typename Unit::period, typename Field::period>::den;
    field = Field(static_cast<long long>(kFieldsPerUnit * number(name, 0, min, max)));
  }
  void set_choice(const std::string& name, std::string& field,
                  const std::vector<std::string>& allowed) const {
    field = choice(name, field, allowed);
  }
  // A choice by name, stored as an enum.
  template <typename Enum>
  void set_choice(const std::string& name, Enum& field,
                  const std::vector<std::pair<std::string, Enum>>& options) const {
    std::vector<std::string> names;
    std::string current;
    for (const auto& [option, value] : options) {
      names.push_back(option);
      if (value == field) current = option;
    }
    const auto picked = choice(name, current, names);
    for (const auto& [option, value] : options) {
      if (option == picked) field = value;
    }
  }
  void set_list(const std::string& name, std::vector<std::string>& field) const {
    field = list(name, field);
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
  EnvMap env_;  // the environment, secrets read from their *_FILE
};

std::string quote_conninfo(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

PostgresSettings PostgresSettings::with_session_setting(const std::string& name,
                                                        const std::string& value) const {
  // libpq takes the last of a repeated keyword, so the appended `options` replaces the
  // earlier one; it carries that one's settings too.
  PostgresSettings out = *this;
  out.options = (options.empty() ? "" : options + " ") + "-c " + name + "=" + value;
  out.conninfo += " options=" + quote_conninfo(out.options);
  return out;
}

namespace {

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
  r.set_integer("POSTGRES_POOL_SIZE", pg.pool_size, 1, 256);
  r.set_integer("POSTGRES_POOL_MAX_WAITERS", pg.pool_max_waiters, 0, 100'000);
  r.set_fraction<std::chrono::seconds>("POSTGRES_POOL_MAX_WAIT_SECONDS", pg.pool_max_wait, 0.001,
                                       60);
  r.set_fraction<std::chrono::seconds>("POSTGRES_CONNECT_TIMEOUT_SECONDS", pg.connect_timeout, 0.1,
                                       600);
  r.set_fraction<std::chrono::seconds>("POSTGRES_QUERY_TIMEOUT_SECONDS", pg.query_timeout, 0.1,
                                       3600);
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
    if (key == "options") pg.options = value;
  }
  if (!password.empty()) pg.conninfo += " password=" + quote_conninfo(password);
  return pg;
}

RedisEndpoint parse_redis_url(const std::string& name, const std::string& value) {
  auto parsed = boost::urls::parse_uri(value);
  if (!parsed || (parsed->scheme() != "redis" && parsed->scheme() != "rediss")) {
    throw ConfigError(name,
                      "must be a redis://[user:password@]host:port/db URL (rediss:// for TLS)");
  }
  RedisEndpoint ep;
  ep.tls.enabled = parsed->scheme() == "rediss";
  if (!parsed->host().empty()) ep.host = parsed->host_address();
  if (parsed->has_port()) ep.port = parsed->port_number();
  if (parsed->has_userinfo()) ep.user = parsed->user();
  if (parsed->has_password()) ep.password = parsed->password();
  if (ep.user.find_first_of(" \t\r\n") != std::string::npos) {
    throw ConfigError(name, "has a user name with whitespace");
  }
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

// PREFIX_CA_FILE, PREFIX_CERT_FILE, PREFIX_KEY_FILE for a connection whose TLS is `enabled`:
// each file must be readable now (a typo is a startup error, not an outage later). Set
// while TLS is off, they are an error too (`off_reason`): the operator meant TLS, and the
// connection must not silently stay plaintext.
TlsSettings load_tls(const Reader& r, const std::string& prefix, bool enabled,
                     const std::string& off_reason) {
  TlsSettings tls;
  tls.enabled = enabled;
  const std::pair<std::string, std::string*> files[] = {{prefix + "_CA_FILE", &tls.ca_file},
                                                        {prefix + "_CERT_FILE", &tls.cert_file},
                                                        {prefix + "_KEY_FILE", &tls.key_file}};
  for (const auto& [variable, field] : files) {
    r.set(variable, *field);
    if (field->empty()) continue;
    if (!enabled) throw ConfigError(variable, "is set, but " + off_reason);
    if (std::FILE* f = std::fopen(field->c_str(), "rb")) {
      std::fclose(f);
    } else {
      throw ConfigError(variable, "cannot read the file '" + *field + "': " + std::strerror(errno));
    }
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw ConfigError(prefix + (tls.cert_file.empty() ? "_CERT_FILE" : "_KEY_FILE"),
                      "is needed too: a client certificate takes " + prefix + "_CERT_FILE and " +
                          prefix + "_KEY_FILE");
  }
  return tls;
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
  // REDIS_PASSWORD (or REDIS_PASSWORD_FILE) for every Redis URL without a password of its own.
  const auto password = r.text("REDIS_PASSWORD", "");
  if (const auto* url = r.raw("REDIS_URL")) {
    redis.cache = parse_redis_url("REDIS_URL", *url);
  } else {
    r.set("REDIS_HOST", redis.cache.host);
    r.set_integer("REDIS_PORT", redis.cache.port, 1, 65535);
    r.set_integer("REDIS_DB", redis.cache.db, 0, 15);
  }
  if (redis.cache.password.empty()) redis.cache.password = password;
  follow_sentinels(r, "REDIS_SENTINELS", "REDIS_MASTER_NAME", redis.cache);
  redis.tasks = redis.cache;
  if (const auto* url = r.raw("CELERY_BROKER_URL")) {
    redis.tasks = parse_redis_url("CELERY_BROKER_URL", *url);
    if (redis.tasks.password.empty()) redis.tasks.password = password;
  }
  follow_sentinels(r, "TASK_REDIS_SENTINELS", "TASK_REDIS_MASTER_NAME", redis.tasks);
  const bool any_tls = redis.cache.tls.enabled || redis.tasks.tls.enabled;
  const auto tls = load_tls(r, "REDIS_TLS", any_tls,
                            "no Redis URL uses TLS (REDIS_URL / CELERY_BROKER_URL: rediss://)");
  for (auto* endpoint : {&redis.cache, &redis.tasks}) {
    if (endpoint->tls.enabled) endpoint->tls = tls;
  }
  r.set_fraction<std::chrono::seconds>("REDIS_ORDERS_TTL_SECONDS", redis.orders_ttl, 1, 86400 * 30);
  r.set_count("REDIS_TIMEOUT_MS", redis.timeout, 1, 60000);
  r.set_count("REDIS_BREAKER_OPEN_MS", redis.breaker_open, 10, 600000);
  return redis;
}

RabbitSettings load_rabbit(const Reader& r) {
  RabbitSettings rabbit;
  // RABBITMQ_HOST and RABBITMQ_PORT default to the one host of `hosts`' default.
  HostPort single = rabbit.hosts.front();
  r.set_integer("RABBITMQ_PORT", single.port, 1, 65535);
  const auto* hosts = r.raw("RABBITMQ_HOSTS");
  rabbit.hosts =
      hosts ? parse_host_ports("RABBITMQ_HOSTS", *hosts, single.port)
            : parse_host_ports("RABBITMQ_HOST", r.text("RABBITMQ_HOST", single.host), single.port);
  r.set_choice("RABBITMQ_QUEUE_TYPE", rabbit.queue_type,
               {{"quorum", QueueType::Quorum}, {"classic", QueueType::Classic}});
  r.set("RABBITMQ_USER", rabbit.user);
  r.set("RABBITMQ_PASSWORD", rabbit.password);
  r.set("RABBITMQ_VHOST", rabbit.vhost);
  r.set("RABBITMQ_EXCHANGE", rabbit.exchange);
  r.set("RABBITMQ_NEW_ORDER_QUEUE", rabbit.new_order_queue);
  r.set("RABBITMQ_NEW_ORDER_ROUTING_KEY", rabbit.routing_key);
  r.set_integer("RABBITMQ_CONSUMER_MAX_RETRIES", rabbit.consumer_max_retries, 0, 100);
  r.set_number("RABBITMQ_CONSUMER_RETRY_BASE_SECONDS", rabbit.consumer_retry_base_seconds, 0.001,
               3600);
  r.set_integer("RABBITMQ_PREFETCH", rabbit.prefetch, 1, 65535);
  r.set_fraction<std::chrono::seconds>("RABBITMQ_TIMEOUT_SECONDS", rabbit.timeout, 0.1, 600);
  r.set_fraction<std::chrono::seconds>("RABBITMQ_HEARTBEAT_SECONDS", rabbit.heartbeat, 0, 3600);
  rabbit.tls =
      load_tls(r, "RABBITMQ_TLS", r.boolean("RABBITMQ_TLS", false), "RABBITMQ_TLS is not true");
  return rabbit;
}

std::size_t unpredictable_characters(std::string_view key) {
  // Pairs a guesser tries first: a character repeated, or a step of one along the alphabet,
  // the digits, a keyboard row or the code points (case ignored: "aAbB" is a sequence too).
  static constexpr std::string_view kSequences[] = {"abcdefghijklmnopqrstuvwxyz",
                                                    "0123456789",
                                                    "1234567890",
                                                    "qwertyuiop",
                                                    "asdfghjkl",
                                                    "zxcvbnm",
                                                    "qazwsxedcrfvtgbyhnujmikolp"};
  auto lower = [](unsigned char c) { return static_cast<unsigned char>(std::tolower(c)); };
  auto follows = [&](unsigned char prev, unsigned char c) {
    prev = lower(prev);
    c = lower(c);
    if (prev == c || prev + 1 == c || c + 1 == prev) return true;
    for (const auto seq : kSequences) {
      const auto a = seq.find(static_cast<char>(prev));
      const auto b = seq.find(static_cast<char>(c));
      if (a != std::string_view::npos && b != std::string_view::npos &&
          (a + 1 == b || b + 1 == a)) {
        return true;
      }
    }
    return false;
  };
  std::size_t count = 0;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (i > 0 && follows(static_cast<unsigned char>(key[i - 1]), c)) continue;
    // The end of a three-character run seen earlier: the key repeats itself.
    if (i >= 2 && key.substr(0, i).find(key.substr(i - 2, 3)) != std::string_view::npos) continue;
    ++count;
  }
  return count;
}

}  // namespace

void check_secret_key(const std::string& variable, std::string_view value) {
  constexpr const char* kHowTo = "; generate one, e.g. `head -c 32 /dev/urandom | base64`";
  if (value.size() < 32) {
    throw ConfigError(variable,
                      "must be at least 32 characters, got " + std::to_string(value.size()));
  }
  if (value == kSecretKeyPlaceholder) {
    throw ConfigError(variable,
                      "is the public placeholder from .env.example: anyone could sign tokens; "
                      "generate one, e.g. `head -c 32 /dev/urandom | base64`");
  }
  if (const auto distinct = distinct_bytes(value); distinct < kMinSecretKeyDistinctBytes) {
    throw ConfigError(variable, "has too little entropy (only " + std::to_string(distinct) +
                                    " distinct characters)" + kHowTo);
  }
  if (const auto n = unpredictable_characters(value); n < kMinSecretKeyUnpredictable) {
    throw ConfigError(variable, "is a repeated or sequential pattern (only " + std::to_string(n) +
                                    " of its characters do not follow from the ones before, " +
                                    std::to_string(kMinSecretKeyUnpredictable) + " needed)" +
                                    kHowTo);
  }
}

Settings load_settings(const EnvMap& env) {
  const Reader r(env);
  Settings s;
  r.set("APP_NAME", s.app_name);
  r.set_choice("LOG_LEVEL", s.log_level,
               {"trace", "debug", "info", "warning", "warn", "error", "critical"});
  r.set_choice("LOG_FORMAT", s.log_format, {{"json", LogFormat::Json}, {"text", LogFormat::Text}});
  r.set_boolean("RUN_MIGRATIONS_ON_STARTUP", s.run_migrations_on_startup);

  const auto* secret = r.raw("SECRET_KEY");
  if (secret == nullptr) throw ConfigError("SECRET_KEY", "is required (at least 32 characters)");
  check_secret_key("SECRET_KEY", *secret);
  s.secret_key = *secret;
  // Earlier signing keys, still accepted for their tokens (key rotation): each is as
  // strong as SECRET_KEY must be. An error names the entry by position, never the key.
  // Commas or line breaks separate them (SECRET_KEY_FALLBACKS_FILE may hold one per line).
  for (const auto& entry : r.list("SECRET_KEY_FALLBACKS", {})) {
    std::size_t start = 0;
    while (start <= entry.size()) {
      const auto end = std::min(entry.find('\n', start), entry.size());
      auto key = domain::trim(std::string_view(entry).substr(start, end - start));
      if (!key.empty()) s.secret_key_fallbacks.push_back(std::move(key));
      start = end + 1;
    }
  }
  for (std::size_t i = 0; i < s.secret_key_fallbacks.size(); ++i) {
    try {
      check_secret_key("SECRET_KEY_FALLBACKS", s.secret_key_fallbacks[i]);
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      throw ConfigError("SECRET_KEY_FALLBACKS", "entry " + std::to_string(i + 1) + " of " +
                                                    std::to_string(s.secret_key_fallbacks.size()) +
                                                    " " + what.substr(what.find(": ") + 2));
    }
  }
  // Accepted for the original's .env files; tokens are always HS256 (security/jwt).
  if (const auto algorithm = r.text("ALGORITHM", "HS256"); algorithm != "HS256") {
    throw ConfigError("ALGORITHM", "only HS256 is supported");
  }
  r.set_count("ACCESS_TOKEN_EXPIRE_MINUTES", s.access_token_ttl, 1, 60 * 24 * 30);

  r.set_integer("METRICS_PORT", s.metrics_port, 0, 65535);
  r.set_boolean("METRICS_ON_API_PORT", s.metrics_on_api_port);
  r.set_fraction<std::chrono::seconds>("AUTH_USER_CACHE_SECONDS", s.auth_user_cache, 0, 3600);
  r.set("API_HOST", s.http.host);
  r.set_integer("API_PORT", s.http.port, 0, 65535);
  r.set_integer("API_THREADS", s.http.threads, 0, 256);
  r.set_integer("HTTP_MAX_BODY_BYTES", s.http.max_body_bytes, 1024, 1LL << 30);
  r.set_integer("HTTP_MAX_HEADER_BYTES", s.http.max_header_bytes, 1024, 1 << 20);
  r.set_fraction<std::chrono::seconds>("HTTP_READ_TIMEOUT_SECONDS", s.http.read_timeout, 0.1, 3600);
  r.set_fraction<std::chrono::seconds>("SHUTDOWN_GRACE_SECONDS", s.http.shutdown_grace, 0, 3600);
  r.set_fraction<std::chrono::seconds>("SHUTDOWN_DRAIN_SECONDS", s.http.shutdown_drain, 0, 3600);
  r.set_integer("HTTP_MAX_CONNECTIONS", s.http.max_connections, 1, 1'000'000);
  r.set_integer("HTTP_MAX_IN_FLIGHT", s.http.max_in_flight, 1, 1'000'000);
  r.set("SWAGGER_UI_DIR", s.http.swagger_ui_dir);

  r.set_list("CORS_ALLOW_ORIGINS", s.cors.origins);
  r.set_list("CORS_ALLOW_METHODS", s.cors.methods);
  r.set_list("CORS_ALLOW_HEADERS", s.cors.headers);
  r.set_boolean("CORS_ALLOW_CREDENTIALS", s.cors.credentials);
  if (s.cors.credentials &&
      std::find(s.cors.origins.begin(), s.cors.origins.end(), "*") != s.cors.origins.end()) {
    throw ConfigError("CORS_ALLOW_CREDENTIALS",
                      "cannot be true while CORS_ALLOW_ORIGINS contains '*' (browsers reject "
                      "credentialed wildcard responses); list the origins explicitly");
  }

  r.set_boolean("RATE_LIMIT_ENABLED", s.rate_limit.enabled);
  r.set_choice("RATE_LIMIT_BACKEND", s.rate_limit.backend,
               {{"redis", RateLimitBackend::Redis}, {"memory", RateLimitBackend::Memory}});
  r.set_number("RATE_LIMIT_CAPACITY", s.rate_limit.capacity, 1, 1e9);
  r.set_number("RATE_LIMIT_REFILL_RATE", s.rate_limit.refill_per_second, 0.001, 1e9);
  r.set_list("TRUSTED_PROXIES", s.rate_limit.trusted_proxies);
  std::string bad_proxy;
  if (!domain::IpNetworks::parse(s.rate_limit.trusted_proxies, &bad_proxy)) {
    throw ConfigError("TRUSTED_PROXIES",
                      "'" + bad_proxy + "' is not an IP address or CIDR range (e.g. 10.0.0.0/8)");
  }

  s.postgres = load_postgres(r);
  s.redis = load_redis(r);
  s.rabbit = load_rabbit(r);

  r.set_fraction<std::chrono::seconds>("OUTBOX_POLL_SECONDS", s.outbox.poll_interval, 0.01, 3600);
  r.set_integer("OUTBOX_BATCH_SIZE", s.outbox.batch_size, 1, 10000);
  r.set_fraction<std::chrono::seconds>("OUTBOX_LEASE_SECONDS", s.outbox.lease, 0.1, 3600);
  r.set_fraction<std::chrono::seconds>("OUTBOX_MAX_BACKOFF_SECONDS", s.outbox.max_backoff, 0.1,
                                       86400);

  r.set_integer("WORKER_CONCURRENCY", s.tasks.concurrency, 1, 10000);
  r.set_fraction<std::chrono::seconds>("TASK_VISIBILITY_TIMEOUT_SECONDS",
                                       s.tasks.visibility_timeout, 0.5, 86400);
  r.set_integer("TASK_DEAD_LETTER_MAX", s.tasks.dead_letter_max, 100, 100'000'000);
  r.set_integer("TASK_MAX_ATTEMPTS", s.tasks.max_attempts, 1, 100);
  r.set_fraction<std::chrono::seconds>("TASK_RETRY_MAX_BACKOFF_SECONDS", s.tasks.retry_max_backoff,
                                       0.01, 3600);
  r.set_fraction<std::chrono::seconds>("RECONCILE_AFTER_SECONDS", s.reconcile.after, 0.1,
                                       30 * 86400);
  r.set_fraction<std::chrono::seconds>("RECONCILE_INTERVAL_SECONDS", s.reconcile.interval, 0.1,
                                       86400);
  r.set_fraction<std::chrono::hours>("OUTBOX_RETENTION_HOURS", s.retention.outbox, 0.0003,
                                     24 * 3650);
  r.set_fraction<std::chrono::hours>("INBOX_RETENTION_HOURS", s.retention.inbox, 0.0003, 24 * 3650);
  r.set_fraction<std::chrono::hours>("TASK_RUNS_RETENTION_HOURS", s.retention.task_runs, 0.0003,
                                     24 * 3650);
  r.set_fraction<std::chrono::seconds>("HOUSEKEEPING_INTERVAL_SECONDS", s.retention.interval, 0.1,
                                       3600);
  r.set_integer("RETENTION_BATCH_SIZE", s.retention.batch_size, 10, 1'000'000);
  r.set_integer("RECONCILE_BATCH_SIZE", s.reconcile.batch_size, 1, 100000);
  r.set_fraction<std::chrono::seconds>("PROCESS_ORDER_DELAY_SECONDS", s.tasks.process_order_delay,
                                       0, 3600);
  r.set("TASK_STREAM", s.tasks.stream);
  s.tasks.dead_stream = s.tasks.stream + ":dead";
  s.retention.reconcile_marks = 2 * s.tasks.visibility_timeout;
  if (s.tasks.process_order_delay >= s.tasks.visibility_timeout) {
    throw ConfigError("TASK_VISIBILITY_TIMEOUT_SECONDS",
                      "must be longer than PROCESS_ORDER_DELAY_SECONDS, or running tasks "
                      "would be reclaimed by other workers");
  }
  return s;
}

}  // namespace os::config
