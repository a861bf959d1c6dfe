#include <gtest/gtest.h>

#include "security/jwt.hpp"
#include "security/verified_tokens.hpp"

using namespace os::security;

namespace {
const std::string kSecret(40, 's');
constexpr std::int64_t kNow = 1'800'000'000;
}  // namespace

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
