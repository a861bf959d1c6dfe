// Serves the files of one folder (Swagger UI assets), each read on its first request and
// then kept in memory.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace os::http {

struct StaticFile {
  std::string content;
  std::string content_type;
};

class StaticFiles {
 public:
  explicit StaticFiles(std::string folder) : folder_(std::move(folder)) {}

  // nullopt for names with a path separator, unknown files, or an unreadable folder.
  std::shared_ptr<const StaticFile> get(const std::string& name);
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const StaticFile>> cache_;
};

}  // namespace os::http
