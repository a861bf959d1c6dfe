#include "security/digest.hpp"

#include <openssl/evp.h>

#include "domain/text.hpp"

namespace os::security {
namespace {
std::string digest_hex(std::string_view data, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, md, nullptr);
  return domain::to_hex(digest, len);
}
}  // namespace

std::string sha256_hex(std::string_view data) {
  return digest_hex(data, EVP_sha256());
}

std::string sha1_hex(std::string_view data) {
  return digest_hex(data, EVP_sha1());
}

}  // namespace os::security
