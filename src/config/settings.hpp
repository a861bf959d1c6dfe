// All settings, read once from the environment (and .env) and validated at startup. A
// setting's default is its member initialiser here; the reader keeps it when the
// variable is unset or empty.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/endpoints.hpp"

namespace os::config {

using EnvMap = std::map<std::string, std::string>;

// A bad or missing setting; `variable` names it so the operator knows what to fix.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string variable, const std::string& problem)
      : std::runtime_error(variable + ": " + problem), variable_(std::move(variable)) {}
  const std::string& variable() const { return variable_; }

 private:
  std::string variable_;
};

struct PostgresSettings {
  std::string conninfo;  // libpq keyword/value string
  std::string display;   // same without the password, for logs
  std::string options;   // libpq's `options` (server settings per session), from DATABASE_URL
  int pool_size = 8;     // per io thread
  // The api's queue for a pooled connection, per io thread (db/pg_pool.hpp): at most this
  // many requests wait, each at most pool_max_wait; the others are answered 503 at once.
  int pool_max_waiters = 64;
  std::chrono::milliseconds pool_max_wait{500};
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds query_timeout{5000};

  // A copy whose sessions also run with the server setting `name` = `value` (added to
  // DATABASE_URL's own `options`, which it keeps).
  PostgresSettings with_session_setting(const std::string& name, const std::string& value) const;
};

// TLS to a server: on when `enabled`; the peer's certificate is always verified (against
// `ca_file`, or the system's trust store when it is empty) and must name the host or IP
// connected to. `cert_file`/`key_file`: a client certificate, when the server asks for one.
struct TlsSettings {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;  // an ACL user (AUTH user password); empty: the default user
  std::string password;
  // rediss://: TLS (REDIS_TLS_*), to the Sentinels too.
  TlsSettings tls;
  // REDIS_SENTINELS / TASK_REDIS_SENTINELS: when set, host/port are unused and each new
  // connection asks these Sentinels for the current primary of `master_name`.
  std::vector<HostPort> sentinels;
  std::string master_name;
  bool uses_sentinel() const { return !sentinels.empty(); }
};

struct RedisSettings {
  RedisEndpoint cache;
  RedisEndpoint tasks;                           // CELERY_BROKER_URL; the cache Redis when unset
  std::chrono::milliseconds orders_ttl{300000};  // Redis EX: rounded up to whole seconds
  std::chrono::milliseconds timeout{100};
  std::chrono::milliseconds breaker_open{5000};
};

enum class QueueType { Quorum, Classic };
enum class RateLimitBackend { Redis, Memory };  // buckets shared in Redis, or per process
enum class LogFormat { Json, Text };

struct RabbitSettings {
  // RABBITMQ_HOSTS, or RABBITMQ_HOST:RABBITMQ_PORT: tried in order on every (re)connect.
  std::vector<HostPort> hosts{HostPort{"127.0.0.1", 5672}};
  QueueType queue_type = QueueType::Quorum;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  std::string exchange = "orders";
  std::string new_order_queue = "new_order";
  std::string routing_key = "order.created";
  int consumer_max_retries = 5;
  double consumer_retry_base_seconds = 1.0;
  int prefetch = 32;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds heartbeat{30000};  // 0: none; AMQP counts whole seconds (rounded up)
  TlsSettings tls;                             // RABBITMQ_TLS, RABBITMQ_TLS_*: on every node
};

struct HttpSettings {
  std::string host = "127.0.0.1";
  int port = 8000;
  int threads = 0;  // 0 = one per core
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds read_timeout{30000};
  // SIGTERM: /ready says 503 at once while the api keeps serving this long (each response
  // then closes its connection), so load balancers stop routing before it stops accepting.
  std::chrono::milliseconds shutdown_drain{5000};
  std::chrono::milliseconds shutdown_grace{10000};  // then in-flight requests may take this long
  int max_connections = 10000;                      // per process; more are answered 503 and closed
  // Requests being handled per io thread (probes not counted); more are answered 503 at once.
  int max_in_flight = 64;
  std::string swagger_ui_dir;
};

struct CorsSettings {
  std::vector<std::string> origins{"*"};  // "*": any origin
  std::vector<std::string> methods{"*"};
  std::vector<std::string> headers{"*"};
  bool credentials = false;
};

struct RateLimitSettings {
  bool enabled = true;
  RateLimitBackend backend = RateLimitBackend::Redis;
  double capacity = 100;
  double refill_per_second = 20;
  std::vector<std::string> trusted_proxies;
};

struct OutboxSettings {
  std::chrono::milliseconds poll_interval{5000};
  int batch_size = 100;
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds max_backoff{300000};
};

struct TaskSettings {
  std::string stream = "tasks:process_order";
  std::string dead_stream = stream + ":dead";  // follows TASK_STREAM
  std::string group = "workers";
  int concurrency = 64;
  std::chrono::milliseconds visibility_timeout{30000};
  int max_attempts = 5;  // for failures that are neither "dependency down" nor permanent
  std::chrono::milliseconds retry_max_backoff{10000};  // between runs put off by an outage
  std::chrono::milliseconds process_order_delay{2000};
  // The dead-letter stream is trimmed (XADD MAXLEN ~) to about this many entries; an order
  // whose dead letter is trimmed stays unprocessed in PostgreSQL, where the reconciler
  // and the unprocessed-age alert still see it.
  std::int64_t dead_letter_max = 100000;
};

// How long rows that every order adds are kept, and how housekeeping prunes them
// (tasks/housekeeping.hpp).
struct RetentionSettings {
  std::chrono::milliseconds outbox{168 * 3600 * 1000LL};     // OUTBOX_RETENTION_HOURS
  std::chrono::milliseconds inbox{168 * 3600 * 1000LL};      // INBOX_RETENTION_HOURS
  std::chrono::milliseconds task_runs{168 * 3600 * 1000LL};  // TASK_RUNS_RETENTION_HOURS
  // SPEC: a key is honoured for 24 hours; after that it is dead weight.
  std::chrono::milliseconds idempotency_keys{24 * 3600 * 1000LL};
  // The reconciler's marks matter for TASK_VISIBILITY_TIMEOUT_SECONDS; kept twice that.
  std::chrono::milliseconds reconcile_marks{60000};
  std::chrono::milliseconds interval{10000};  // HOUSEKEEPING_INTERVAL_SECONDS
  int batch_size = 5000;                      // RETENTION_BATCH_SIZE
};

struct ReconcileSettings {
  std::chrono::milliseconds after{300000};    // an order unprocessed this long is enqueued again
  std::chrono::milliseconds interval{60000};  // how often to look
  int batch_size = 500;                       // orders per statement
};

struct Settings {
  std::string app_name = "order-service";
  std::string log_level = "info";
  LogFormat log_format = LogFormat::Json;
  bool run_migrations_on_startup = false;
  std::string secret_key;
  // Earlier signing keys: they verify tokens, never sign (key rotation, README).
  std::vector<std::string> secret_key_fallbacks;
  int metrics_port = 0;  // for roles without the api (and for the api's, see below)
  // /metrics on the api's port too (the default, for compatibility); false: only on
  // METRICS_PORT, which the api role then serves as well.
  bool metrics_on_api_port = true;
  std::chrono::minutes access_token_ttl{30};
  // 0: every authenticated request checks that the user still exists. >0: remember
  // existing users this long, forgotten on deletion via NOTIFY; trusted only while the
  // listener proves itself every 250 ms, so a deleted user is refused within 1 s.
  std::chrono::milliseconds auth_user_cache{60000};
  HttpSettings http;
  CorsSettings cors;
  RateLimitSettings rate_limit;
  PostgresSettings postgres;
  RedisSettings redis;
  RabbitSettings rabbit;
  OutboxSettings outbox;
  TaskSettings tasks;
  ReconcileSettings reconcile;
  RetentionSettings retention;
};

// .env.example's SECRET_KEY: refused at startup, like any key with fewer than
// kMinSecretKeyDistinctBytes distinct characters (a hex key of 32 characters has ~14; 10
// refused one random hex key in 10,000, 8 refuses one in 30 million: patterns with more
// distinct characters are the next check's).
inline constexpr std::string_view kSecretKeyPlaceholder =
    "change-me-to-a-random-string-of-32-chars-or-more";
inline constexpr std::size_t kMinSecretKeyDistinctBytes = 8;
// ... and with fewer than this many characters that do not follow from the ones before
// (a repeat, a step along the alphabet, digits or a keyboard row, a three-character run
// seen earlier): "0123456789" four times has 10 distinct characters but 1 such character;
// a random hex key of 32 characters has about 26 (the fewest in a million such keys: 13).
inline constexpr std::size_t kMinSecretKeyUnpredictable = 12;

// Throws ConfigError(variable, ...) unless `value` may sign tokens: at least 32 characters,
// not the placeholder, enough distinct characters, not a repeated or sequential pattern.
// SECRET_KEY and every SECRET_KEY_FALLBACKS entry go through it, whatever their source.
void check_secret_key(const std::string& variable, std::string_view value);

// Secrets that may also be given as a file: NAME_FILE=/run/secrets/... (read at startup,
// one trailing newline stripped; setting both NAME and NAME_FILE is an error).
inline constexpr std::string_view kSecretFileVariables[] = {"SECRET_KEY", "SECRET_KEY_FALLBACKS",
                                                            "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                                                            "RABBITMQ_PASSWORD"};

// Throws ConfigError naming the first bad variable.
Settings load_settings(const EnvMap& env);

// The process environment overlaid on the .env file (real variables win).
EnvMap process_environment(const std::string& dotenv_path);

}  // namespace os::config
