#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

#include "domain/text.hpp"
#include "security/digest.hpp"
#include "security/jwt.hpp"
#include "security/password.hpp"
#include "security/verified_tokens.hpp"

using namespace os::security;
using os::domain::base64url_encode;

namespace {
const std::string kSecret(40, 's');
constexpr std::int64_t kNow = 1'800'000'000;
}  // namespace

TEST(Jwt, IssuedTokenVerifies) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  const auto token = codec.issue(42, kNow);
  const auto claims = codec.verify(token, kNow + 10);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->user_id, 42);
  EXPECT_EQ(claims->expires_at, kNow + 1800);
  EXPECT_FALSE(claims->token_id.empty());
}

TEST(Jwt, RejectsExpiredToken) {
  JwtCodec codec(kSecret, std::chrono::minutes(1));
  EXPECT_FALSE(codec.verify(codec.issue(1, kNow), kNow + 61).has_value());
}

TEST(Jwt, RejectsBadSignature) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  JwtCodec other(std::string(40, 'x'), std::chrono::minutes(30));
  EXPECT_FALSE(codec.verify(other.issue(1, kNow), kNow).has_value());
  auto token = codec.issue(1, kNow);
  token.back() = token.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.verify(token, kNow).has_value());
}

TEST(Jwt, RejectsAlgNone) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  const auto header = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  const auto payload = base64url_encode(R"({"sub":"1","exp":1900000000})");
  EXPECT_FALSE(codec.verify(header + "." + payload + ".", kNow).has_value());
  EXPECT_FALSE(codec.verify(header + "." + payload, kNow).has_value());
}

TEST(Jwt, RejectsGarbage) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  for (const char* t : {"", "abc", "a.b.c", "...", "e30.e30.e30", "a.b.c.d"}) {
    EXPECT_FALSE(codec.verify(t, kNow).has_value()) << t;
  }
}

namespace {
const std::string kOldKey = "Wq3vZ8nR2tYk6pLm9sXc4bHj7dFg1aEe";  // "A"
const std::string kNewKey = "uN5rT0wQ8eJ3yK6iB2oP9lM4zV7xC1hS";  // "B"

std::optional<boost::json::object> header_of(const std::string& token) {
  const auto raw = os::domain::base64url_decode(token.substr(0, token.find('.')));
  if (!raw) return std::nullopt;
  auto v = boost::json::parse(*raw);
  return v.as_object();
}

// A token as the previous release issued it: no kid header.
std::string legacy_token(const std::string& key, std::int64_t user, std::int64_t exp) {
  const auto input = base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                     base64url_encode(R"({"sub":")" + std::to_string(user) + R"(","iat":1,"exp":)" +
                                      std::to_string(exp) + "}");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

// The token with its header replaced, signed again with `key`.
std::string with_header(const std::string& key, const std::string& header_json,
                        const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  const auto input = base64url_encode(header_json) + token.substr(first, second - first);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}
}  // namespace

TEST(JwtKeys, KidIsADigestOfTheKeyNotTheKey) {
  EXPECT_EQ(key_id(kOldKey), sha256_hex(kOldKey).substr(0, 16));
  EXPECT_EQ(key_id(kOldKey).size(), 16U);
  EXPECT_NE(key_id(kOldKey), key_id(kNewKey));
  JwtCodec codec(kNewKey, std::chrono::minutes(30), {kOldKey});
  const auto token = codec.issue(5, kNow);
  const auto header = header_of(token);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->at("kid").as_string(), key_id(kNewKey));  // the signing key's
  EXPECT_EQ(header->at("alg").as_string(), "HS256");
  EXPECT_EQ(token.find(kNewKey), std::string::npos);
  EXPECT_EQ(codec.key_ids(), (std::vector<std::string>{key_id(kNewKey), key_id(kOldKey)}));
}

TEST(JwtKeys, AFallbackVerifiesTheOldKeysTokensAndNeverSigns) {
  JwtCodec before(kOldKey, std::chrono::minutes(30));
  JwtCodec after(kNewKey, std::chrono::minutes(30), {kOldKey});
  const auto old_token = before.issue(7, kNow);
  const auto claims = after.verify(old_token, kNow + 1);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->user_id, 7);
  // New tokens are the new key's: the old release (old key only) refuses them.
  EXPECT_FALSE(before.verify(after.issue(8, kNow), kNow).has_value());
  // Tokens without a kid (the previous release's) are tried against every key.
  EXPECT_TRUE(after.verify(legacy_token(kOldKey, 9, kNow + 60), kNow).has_value());
  EXPECT_TRUE(after.verify(legacy_token(kNewKey, 9, kNow + 60), kNow).has_value());
  EXPECT_FALSE(after.verify(legacy_token(std::string(40, 'x'), 9, kNow + 60), kNow).has_value());
}

TEST(JwtKeys, ARemovedKeysTokensAreRefused) {
  JwtCodec rotating(kNewKey, std::chrono::minutes(30), {kOldKey});
  JwtCodec rotated(kNewKey, std::chrono::minutes(30));
  const auto old_token = JwtCodec(kOldKey, std::chrono::minutes(30)).issue(3, kNow);
  ASSERT_TRUE(rotating.verify(old_token, kNow).has_value());
  EXPECT_FALSE(rotated.verify(old_token, kNow).has_value());
  EXPECT_FALSE(rotated.verify(legacy_token(kOldKey, 3, kNow + 60), kNow).has_value());
  // The cache is per codec: a codec without the key starts without the token.
  VerifiedTokens before(rotating);
  ASSERT_NE(before.verify(old_token, kNow), nullptr);
  ASSERT_NE(before.verify(old_token, kNow), nullptr);
  VerifiedTokens after(rotated);
  EXPECT_EQ(after.verify(old_token, kNow), nullptr);
}

TEST(JwtKeys, TheKidPicksTheKey) {
  JwtCodec codec(kNewKey, std::chrono::minutes(30), {kOldKey});
  const auto token = codec.issue(4, kNow);
  // Signed by a configured key but naming another configured key: refused.
  const auto mislabelled = with_header(
      kNewKey, R"({"alg":"HS256","typ":"JWT","kid":")" + key_id(kOldKey) + R"("})", token);
  EXPECT_FALSE(codec.verify(mislabelled, kNow).has_value());
  // Naming a key that is not configured: refused, even though the signature is good.
  const auto unknown =
      with_header(kNewKey, R"({"alg":"HS256","typ":"JWT","kid":"0000000000000000"})", token);
  EXPECT_FALSE(codec.verify(unknown, kNow).has_value());
  // A kid that is not a string: refused.
  const auto number = with_header(kNewKey, R"({"alg":"HS256","typ":"JWT","kid":1})", token);
  EXPECT_FALSE(codec.verify(number, kNow).has_value());
  // The right kid, re-signed: accepted (the header is covered by the signature).
  const auto relabelled = with_header(
      kOldKey, R"({"alg":"HS256","typ":"JWT","kid":")" + key_id(kOldKey) + R"("})", token);
  EXPECT_TRUE(codec.verify(relabelled, kNow).has_value());
  // alg none with a valid kid: still refused.
  const auto none = base64url_encode(R"({"alg":"none","kid":")" + key_id(kNewKey) + R"("})") +
                    token.substr(token.find('.'), token.rfind('.') - token.find('.')) + ".";
  EXPECT_FALSE(codec.verify(none, kNow).has_value());
}

TEST(Password, HashVerifiesOnlyTheRightPassword) {
  const auto hash = hash_password("correct horse");
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password(hash, "correct horse"));
  EXPECT_FALSE(verify_password(hash, "wrong horse"));
  EXPECT_FALSE(verify_password(decoy_hash(), "anything"));
}

TEST(VerifiedTokens, SecondVerificationIsAHitWithTheSameClaims) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  VerifiedTokens tokens(codec);
  const auto token = codec.issue(42, kNow);
  const auto* first = tokens.verify(token, kNow);
  ASSERT_NE(first, nullptr);
  const auto id = first->token_id;
  const auto* second = tokens.verify(token, kNow + 5);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(tokens.hits(), 1U);
  EXPECT_EQ(second->user_id, 42);
  EXPECT_EQ(second->expires_at, kNow + 1800);
  EXPECT_EQ(second->token_id, id);
}

TEST(VerifiedTokens, ACachedTokenStillExpires) {
  JwtCodec codec(kSecret, std::chrono::minutes(1));
  VerifiedTokens tokens(codec);
  const auto token = codec.issue(1, kNow);
  ASSERT_NE(tokens.verify(token, kNow), nullptr);
  EXPECT_NE(tokens.verify(token, kNow + 59), nullptr);
  EXPECT_EQ(tokens.verify(token, kNow + 60), nullptr);
  EXPECT_EQ(tokens.verify(token, kNow + 3600), nullptr);
}

TEST(VerifiedTokens, RefusedTokensAreNeverRemembered) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  JwtCodec other(std::string(40, 'x'), std::chrono::minutes(30));
  VerifiedTokens tokens(codec);
  const auto forged = other.issue(7, kNow);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tokens.verify(forged, kNow), nullptr);
  auto tampered = codec.issue(7, kNow);
  ASSERT_NE(tokens.verify(tampered, kNow), nullptr);
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';  // a near miss of a cached token
  EXPECT_EQ(tokens.verify(tampered, kNow), nullptr);
  EXPECT_EQ(tokens.verify("", kNow), nullptr);
  EXPECT_EQ(tokens.hits(), 0U);
}

TEST(VerifiedTokens, MoreTokensThanSlotsAllAnswerCorrectly) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  VerifiedTokens tokens(codec);
  std::vector<std::string> issued;
  for (int user = 1; user <= 3 * static_cast<int>(VerifiedTokens::kSlots); ++user) {
    issued.push_back(codec.issue(user, kNow));
  }
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < issued.size(); ++i) {
      const auto* claims = tokens.verify(issued[i], kNow);
      ASSERT_NE(claims, nullptr);
      EXPECT_EQ(claims->user_id, static_cast<std::int64_t>(i + 1));
    }
  }
}

TEST(VerifiedTokens, OverlongTokensAreVerifiedEveryTime) {
  JwtCodec codec(kSecret, std::chrono::minutes(30));
  VerifiedTokens tokens(codec);
  const std::string junk(VerifiedTokens::kMaxTokenSize + 1, 'a');
  EXPECT_EQ(tokens.verify(junk, kNow), nullptr);
  EXPECT_EQ(tokens.hits(), 0U);
}

TEST(Digest, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}
