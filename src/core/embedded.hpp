// Files compiled into the binary (migrations, the OpenAPI document).
#pragma once
#include <string_view>
#include <vector>

namespace os {

struct EmbeddedFile {
  const char* name;  // file name without folders
  std::string_view content;
};

const std::vector<EmbeddedFile>& embedded_migrations();  // migrations/*.sql, in name order
const std::vector<EmbeddedFile>& embedded_api_docs();    // src/api/openapi.json

}  // namespace os
