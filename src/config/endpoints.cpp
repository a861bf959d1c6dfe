#include "config/endpoints.hpp"

#include <charconv>

#include "config/settings.hpp"
#include "domain/text.hpp"

namespace os::config {
namespace {

int parse_port(const std::string& variable, std::string_view text, const std::string& entry) {
  int port = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || port < 1 ||
      port > 65535) {
    throw ConfigError(variable, "has an invalid port in '" + entry + "'");
  }
  return port;
}

HostPort parse_host_port(const std::string& variable, const std::string& entry, int default_port) {
  HostPort hp;
  std::string_view rest = entry;
  if (!rest.empty() && rest.front() == '[') {  // [v6 address]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close == 1) {
      throw ConfigError(variable, "has an invalid address '" + entry + "'");
    }
    hp.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      throw ConfigError(variable, "has an invalid address '" + entry + "'");
    }
  } else {
    const auto colon = rest.rfind(':');
    hp.host = std::string(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  if (hp.host.empty() || hp.host.find_first_of(" \t@?#,") != std::string::npos) {
    throw ConfigError(variable, "has an invalid host in '" + entry + "'");
  }
  if (rest.empty()) {
    if (default_port == 0) throw ConfigError(variable, "needs host:port, got '" + entry + "'");
    hp.port = default_port;
  } else {
    hp.port = parse_port(variable, rest.substr(1), entry);
  }
  return hp;
}

std::string percent_decoded(const std::string& variable, std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const auto hi = i + 2 < s.size() ? domain::hex_value(s[i + 1]) : std::nullopt;
    const auto lo = i + 2 < s.size() ? domain::hex_value(s[i + 2]) : std::nullopt;
    if (!hi || !lo) throw ConfigError(variable, "has an invalid %-escape");
    out += static_cast<char>(*hi * 16 + *lo);
    i += 2;
  }
  return out;
}

bool is_keyword(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::string HostPort::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::vector<HostPort> parse_host_ports(const std::string& variable, const std::string& value,
                                       int default_port) {
  std::vector<HostPort> out;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    const auto entry = domain::trim(std::string_view(value).substr(start, end - start));
    if (entry.empty()) throw ConfigError(variable, "has an empty entry in '" + value + "'");
    out.push_back(parse_host_port(variable, entry, default_port));
    start = end + 1;
  }
  return out;
}

PostgresUrl parse_postgres_url(const std::string& variable, const std::string& value,
                               int default_port) {
  const auto scheme_end = value.find("://");
  const std::string scheme = value.substr(0, scheme_end);
  // postgresql+asyncpg://… from the original is accepted: the driver part is ignored.
  if (scheme_end == std::string::npos ||
      (scheme != "postgres" && scheme != "postgresql" && scheme.rfind("postgresql+", 0) != 0)) {
    throw ConfigError(variable, "must start with postgresql://");
  }
  std::string_view rest = std::string_view(value).substr(scheme_end + 3);
  if (rest.find_first_of(" \t\r\n") != std::string_view::npos) {
    throw ConfigError(variable, "must not contain spaces (percent-encode them)");
  }
  PostgresUrl url;
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    url.dbname = percent_decoded(variable, rest.substr(slash + 1));
  }
  // The password may contain '@' only percent-encoded; the last '@' ends the user part.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    url.has_user = true;
    url.user = percent_decoded(variable, userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      url.has_password = true;
      url.password = percent_decoded(variable, userinfo.substr(colon + 1));
    }
  }
  if (!authority.empty()) {
    url.hosts = parse_host_ports(variable, percent_decoded(variable, authority), default_port);
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const auto key = percent_decoded(variable, pair.substr(0, eq));
    if (eq == std::string_view::npos || !is_keyword(key)) {
      throw ConfigError(variable, "has an invalid parameter '" + std::string(pair) + "'");
    }
    url.parameters[key] = percent_decoded(variable, pair.substr(eq + 1));
  }
  return url;
}

}  // namespace os::config
