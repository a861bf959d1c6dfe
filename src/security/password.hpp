// Argon2id password hashing (libsodium). CPU- and memory-heavy: call off the I/O threads.
#pragma once
#include <string>
#include <string_view>

namespace os::security {

std::string hash_password(std::string_view password);
bool verify_password(std::string_view stored_hash, std::string_view password);
// A valid hash of a random password, verified for unknown emails so that a login
// takes the same time whether or not the account exists.
const std::string& decoy_hash();

}  // namespace os::security
