#include <fstream>
#include <string>

#include "config/settings.hpp"
#include "domain/text.hpp"

extern char** environ;

namespace os::config {
namespace {

using domain::trim;

// KEY=VALUE lines; '#' comments, optional `export `, optional matching quotes.
void read_dotenv(const std::string& path, EnvMap& out) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[key] = value;
  }
}

}  // namespace

EnvMap process_environment(const std::string& dotenv_path) {
  EnvMap env;
  if (!dotenv_path.empty()) read_dotenv(dotenv_path, env);
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

}  // namespace os::config
