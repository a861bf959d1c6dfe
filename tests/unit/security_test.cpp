#include <gtest/gtest.h>

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
