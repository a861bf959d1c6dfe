// Tokens whose signature one thread has already checked, so that a client sending the
// same bearer token on every request pays the HMAC, the two base64 decodes and the two
// JSON parses once instead of per request.
//
// Why it is safe: for a fixed codec, verify() is a pure function of the token text and
// the current time, and time enters only through "exp". A codec's keys (SECRET_KEY and
// SECRET_KEY_FALLBACKS) are fixed for its life and the cache is built on one codec and
// lives in memory only: a key removed from the configuration takes effect with the
// restart that reads it, which starts with empty caches, so no cached token outlives its
// key. An entry holds the whole token
// (compared byte for byte, so a hash collision only evicts) and the claims it verified
// to; a hit is still refused once expires_at has passed. Only tokens that verified are
// stored, so garbage cannot crowd out real ones, and the table has a fixed number of
// slots (memory is bounded whatever the clients send). Not thread-safe: one per thread.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "security/jwt.hpp"

namespace os::security {

class VerifiedTokens {
 public:
  static constexpr std::size_t kSlots = 512;
  // Tokens longer than this are verified every time (ours are ~190 bytes).
  static constexpr std::size_t kMaxTokenSize = 512;

  explicit VerifiedTokens(const JwtCodec& codec) : codec_(codec) {}

  // Same answer as codec.verify(token, now_unix), as a pointer (nullptr: refused) that
  // stays valid until the next call; a hit copies and allocates nothing.
  const TokenClaims* verify(std::string_view token, std::int64_t now_unix);

  std::uint64_t hits() const { return hits_; }

 private:
  struct Slot {
    std::string token;  // empty: free
    TokenClaims claims;
  };

  const JwtCodec& codec_;
  std::array<Slot, kSlots> slots_;
  TokenClaims uncached_;  // the answer for a token too long to store
  std::uint64_t hits_ = 0;
};

}  // namespace os::security
