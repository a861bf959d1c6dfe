// HS256 JSON Web Tokens: issue and verify with the algorithm pinned.
//
// Keys rotate without logging anyone out: one key signs (SECRET_KEY), earlier keys only
// verify (SECRET_KEY_FALLBACKS). Every token names its key in a `kid` header, a digest of
// the key (key_id), so verification computes one HMAC with that key; a token without a
// `kid` (issued before tokens carried one) is tried against each key. A token whose `kid`
// names no configured key is refused: removing a key from the configuration ends its tokens.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace os::security {

struct TokenClaims {
  std::int64_t user_id = 0;  // "sub"
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  std::string token_id;  // "jti"
};

// The `kid` of a key: the first 8 bytes of SHA-256(key) in lower-case hex (16 characters),
// so `printf %s "$SECRET_KEY" | sha256sum | cut -c1-16` shows which key a token names. It
// identifies the key without revealing it (a key has at least 32 random characters).
std::string key_id(std::string_view key);

class JwtCodec {
 public:
  // `secret` signs and verifies; each of `fallbacks` only verifies (duplicates ignored).
  JwtCodec(std::string secret, std::chrono::seconds lifetime,
           const std::vector<std::string>& fallbacks = {});

  std::string issue(std::int64_t user_id, std::int64_t now_unix) const;
  // nullopt for any token that is malformed, not HS256, signed by no configured key (or
  // naming a key that is not configured) or expired.
  std::optional<TokenClaims> verify(std::string_view token, std::int64_t now_unix) const;

  std::chrono::seconds lifetime() const { return lifetime_; }
  // The signing key's kid, then the fallbacks', in configuration order.
  std::vector<std::string> key_ids() const;

 private:
  struct Key {
    std::string secret;
    std::string kid;
  };

  static std::string sign(const Key& key, std::string_view signing_input);
  static bool signed_by(const Key& key, std::string_view signing_input, std::string_view given);

  std::vector<Key> keys_;  // keys_[0] signs
  std::string header_;     // base64url of the signing key's header
  std::chrono::seconds lifetime_;
};

}  // namespace os::security
