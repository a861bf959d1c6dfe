// Bearer JWT authentication: valid signature, not expired, user still exists.
#pragma once
#include "api/known_users.hpp"
#include "db/user_repository.hpp"
#include "http/middleware.hpp"
#include "security/verified_tokens.hpp"

namespace os::api {

class JwtAuthenticator : public http::Authenticator {
 public:
  JwtAuthenticator(const security::JwtCodec& jwt, db::UserRepository& users, KnownUsers& known)
      : tokens_(jwt), users_(users), known_(known) {}

  awaitable<std::optional<std::int64_t>> authenticate(const http::Request& request,
                                                      std::string& failure) override;

 private:
  security::VerifiedTokens tokens_;  // this io thread's
  db::UserRepository& users_;
  KnownUsers& known_;
};

}  // namespace os::api
