// api::KnownUsers: the user-existence cache the authenticator consults before PostgreSQL.
#include "api/known_users.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace os::api {
namespace {

struct TrustedCache : KnownUsers {
  TrustedCache() : KnownUsers(std::chrono::seconds(60)) { vouch(Clock::now()); }
};

TEST(KnownUsers, RemembersOnlyWhileTrusted) {
  KnownUsers users(std::chrono::seconds(60));
  users.remember(7, users.generation());
  EXPECT_FALSE(users.contains(7));  // no listener has vouched yet
  users.vouch(Clock::now());
  users.remember(7, users.generation());
  EXPECT_TRUE(users.contains(7));
  EXPECT_FALSE(users.contains(8));
}

TEST(KnownUsers, ForgetRemovesTheUser) {
  TrustedCache users;
  users.remember(7, users.generation());
  users.forget(7);
  EXPECT_FALSE(users.contains(7));
}

TEST(KnownUsers, DeletionBetweenCheckAndRememberIsNotUndone) {
  TrustedCache users;
  const auto before_check = users.generation();  // the request reads it, asks PostgreSQL...
  users.forget(7);                               // ...the deletion's NOTIFY arrives...
  users.remember(7, before_check);               // ...then the request's answer ("exists")
  EXPECT_FALSE(users.contains(7));
  users.remember(7, users.generation());  // a later check may remember it again
  EXPECT_TRUE(users.contains(7));
}

TEST(KnownUsers, AnyDeletionBlocksRemembersStartedBeforeIt) {
  TrustedCache users;
  const auto g = users.generation();
  users.forget_all();  // a TRUNCATE
  users.remember(1, g);
  EXPECT_FALSE(users.contains(1));
}

TEST(KnownUsers, TrustLapsesWithoutAFreshVouch) {
  KnownUsers users(std::chrono::seconds(60));
  users.vouch(Clock::now() - KnownUsers::kTrustWindow + std::chrono::milliseconds(30));
  users.remember(7, users.generation());
  EXPECT_TRUE(users.contains(7));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_FALSE(users.contains(7));  // the listener is silent: not trusted any more
  users.vouch(Clock::now());
  EXPECT_TRUE(users.contains(7));
}

TEST(KnownUsers, TrustWindowKeepsTheOneSecondBound) {
  EXPECT_LT(KnownUsers::kTrustWindow, std::chrono::milliseconds(1000));
}

TEST(KnownUsers, DistrustForgetsEverything) {
  TrustedCache users;
  users.remember(7, users.generation());
  users.distrust();
  users.vouch(Clock::now());
  EXPECT_FALSE(users.contains(7));
}

TEST(KnownUsers, EntriesExpireAfterTheTtl) {
  KnownUsers users(std::chrono::seconds(0));
  users.vouch(Clock::now());
  users.remember(7, users.generation());
  EXPECT_FALSE(users.contains(7));
}

}  // namespace
}  // namespace os::api
