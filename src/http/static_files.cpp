#include "http/static_files.hpp"

#include <fstream>
#include <sstream>

namespace os::http {
namespace {
std::string content_type_for(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "js") return "application/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "png") return "image/png";
  if (ext == "json" || ext == "map") return "application/json";
  return "application/octet-stream";
}
}  // namespace

std::shared_ptr<const StaticFile> StaticFiles::get(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(name); it != cache_.end()) return it->second;
  std::ifstream in(folder_ + "/" + name, std::ios::binary);
  if (!in) return nullptr;
  std::ostringstream data;
  data << in.rdbuf();
  auto file = std::make_shared<const StaticFile>(StaticFile{data.str(), content_type_for(name)});
  cache_.emplace(name, file);
  return file;
}

}  // namespace os::http
