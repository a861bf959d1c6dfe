// HS256 JSON Web Tokens: issue and verify with the algorithm pinned.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace os::security {

struct TokenClaims {
  std::int64_t user_id = 0;  // "sub"
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  std::string token_id;  // "jti"
};

class JwtCodec {
 public:
  JwtCodec(std::string secret, std::chrono::seconds lifetime);

  std::string issue(std::int64_t user_id, std::int64_t now_unix) const;
  // nullopt for any token that is malformed, not HS256, badly signed or expired.
  std::optional<TokenClaims> verify(std::string_view token, std::int64_t now_unix) const;

  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  std::string sign(std::string_view signing_input) const;

  std::string secret_;
  std::chrono::seconds lifetime_;
};

}  // namespace os::security
