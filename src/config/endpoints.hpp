// Parsing of the addresses in connection settings: `host:port` lists (RABBITMQ_HOSTS,
// REDIS_SENTINELS) and PostgreSQL URLs with libpq's multi-host syntax. Pure functions;
// they throw ConfigError naming the variable.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace os::config {

struct HostPort {
  std::string host;
  int port = 0;
  std::string text() const;  // host:port, [v6]:port
  bool operator==(const HostPort&) const = default;
};

// "h1:p1, h2, [::1]:p3": comma-separated; an entry without a port gets `default_port`
// (0: a port is required). Throws ConfigError(variable, …) for an empty list or a bad entry.
std::vector<HostPort> parse_host_ports(const std::string& variable, const std::string& value,
                                       int default_port);

// postgresql[+driver]://[user[:password]@][host[:port][,host[:port]…]][/dbname][?k=v&…],
// percent-decoded. Hosts without a port get `default_port`.
struct PostgresUrl {
  std::vector<HostPort> hosts;  // empty when the URL names none
  std::string user;
  std::string password;
  bool has_user = false;
  bool has_password = false;
  std::string dbname;                             // empty when the URL names none
  std::map<std::string, std::string> parameters;  // libpq keywords from the query string
};
PostgresUrl parse_postgres_url(const std::string& variable, const std::string& value,
                               int default_port);

}  // namespace os::config
