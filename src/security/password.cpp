#include "security/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "domain/uuid.hpp"

namespace os::security {
namespace {
void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("libsodium initialisation failed");
}
}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return out;
}

bool verify_password(std::string_view stored_hash, std::string_view password) {
  ensure_sodium();
  const std::string hash(stored_hash);  // must be NUL-terminated
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

const std::string& decoy_hash() {
  static const std::string hash = hash_password(domain::random_hex(16));
  return hash;
}

}  // namespace os::security
