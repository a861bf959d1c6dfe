#include "security/verified_tokens.hpp"

#include <functional>

namespace os::security {

const TokenClaims* VerifiedTokens::verify(std::string_view token, std::int64_t now_unix) {
  if (token.size() > kMaxTokenSize) {
    auto claims = codec_.verify(token, now_unix);
    if (!claims) return nullptr;
    uncached_ = std::move(*claims);
    return &uncached_;
  }
  Slot& slot = slots_[std::hash<std::string_view>{}(token) % kSlots];
  if (!slot.token.empty() && slot.token == token) {
    if (slot.claims.expires_at <= now_unix) return nullptr;
    ++hits_;
    return &slot.claims;
  }
  auto claims = codec_.verify(token, now_unix);
  if (!claims) return nullptr;
  slot.token.assign(token);
  slot.claims = std::move(*claims);
  return &slot.claims;
}

}  // namespace os::security
