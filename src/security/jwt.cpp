#include "security/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "domain/text.hpp"
#include "domain/uuid.hpp"
#include "security/digest.hpp"

namespace os::security {
namespace json = boost::json;
using domain::base64url_decode;
using domain::base64url_encode;

namespace {
std::optional<json::object> decode_json_part(std::string_view part) {
  auto raw = base64url_decode(part);
  if (!raw) return std::nullopt;
  boost::system::error_code ec;
  auto value = json::parse(*raw, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

std::optional<std::int64_t> integer_claim(const json::object& payload, std::string_view name) {
  const auto* v = payload.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) {
    if (v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double()) {
    // Only a finite double in range converts (a cast of inf, NaN or 1e19 is undefined).
    const double d = v->as_double();
    if (!(d >= -9.2e18 && d <= 9.2e18)) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}
}  // namespace

std::string key_id(std::string_view key) {
  return sha256_hex(key).substr(0, 16);
}

JwtCodec::JwtCodec(std::string secret, std::chrono::seconds lifetime,
                   const std::vector<std::string>& fallbacks)
    : lifetime_(lifetime) {
  auto kid = key_id(secret);
  keys_.push_back(Key{std::move(secret), std::move(kid)});
  for (const auto& fallback : fallbacks) {
    const bool known =
        std::any_of(keys_.begin(), keys_.end(), [&](const Key& k) { return k.secret == fallback; });
    if (!known) keys_.push_back(Key{fallback, key_id(fallback)});
  }
  header_ = base64url_encode(
      json::serialize(json::object{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", keys_[0].kid}}));
}

std::vector<std::string> JwtCodec::key_ids() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.kid);
  return out;
}

std::string JwtCodec::sign(const Key& key, std::string_view signing_input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

bool JwtCodec::signed_by(const Key& key, std::string_view signing_input, std::string_view given) {
  const auto expected = sign(key, signing_input);
  return given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::string JwtCodec::issue(std::int64_t user_id, std::int64_t now_unix) const {
  const json::object payload{{"sub", std::to_string(user_id)},
                             {"iat", now_unix},
                             {"exp", now_unix + lifetime_.count()},
                             {"jti", domain::random_hex(16)}};
  std::string token = header_ + "." + base64url_encode(json::serialize(payload));
  const auto signature = sign(keys_[0], token);
  token += '.';
  token += signature;
  return token;
}

std::optional<TokenClaims> JwtCodec::verify(std::string_view token, std::int64_t now_unix) const {
  const auto first = token.find('.');
  const auto second = token.find('.', first == std::string_view::npos ? first : first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos ||
      token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const auto header = decode_json_part(token.substr(0, first));
  if (!header) return std::nullopt;
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") return std::nullopt;

  // With a kid: only the key it names (normally one; two keys sharing 64 bits of digest
  // are both tried). Without: every key, for tokens issued before tokens carried a kid.
  const auto* kid = header->if_contains("kid");
  if (kid != nullptr && !kid->is_string()) return std::nullopt;
  const auto signing_input = token.substr(0, second);
  const auto given = token.substr(second + 1);
  bool verified = false;
  for (const auto& key : keys_) {
    if (kid != nullptr && kid->as_string() != key.kid) continue;
    if (signed_by(key, signing_input, given)) {
      verified = true;
      break;
    }
  }
  if (!verified) return std::nullopt;
  const auto payload = decode_json_part(token.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;

  TokenClaims claims;
  const auto exp = integer_claim(*payload, "exp");
  if (!exp || *exp <= now_unix) return std::nullopt;
  claims.expires_at = *exp;
  claims.issued_at = integer_claim(*payload, "iat").value_or(0);
  const auto* sub = payload->if_contains("sub");
  if (sub == nullptr || !sub->is_string()) return std::nullopt;
  const auto& s = sub->as_string();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), claims.user_id);
  if (ec != std::errc{} || p != s.data() + s.size() || claims.user_id <= 0) return std::nullopt;
  if (const auto* jti = payload->if_contains("jti"); jti != nullptr && jti->is_string()) {
    claims.token_id = std::string(jti->as_string());
  }
  return claims;
}

}  // namespace os::security
