// Bearer tokens: security::JwtCodec::verify with a fixed key.
// First input byte picks the mode (the rest is the data):
//   0: the rest is the token as sent (almost always a bad signature: header parsing only);
//   1: the rest is "<header JSON>\n<payload JSON>", base64url-encoded and signed with the
//      key, so the claim parsing behind the signature check is reached too;
//   2: the rest is the payload JSON under the real header, signed.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "domain/text.hpp"
#include "fuzz_common.hpp"
#include "security/jwt.hpp"

using os::domain::base64url_encode;
using os::security::JwtCodec;

namespace {
const std::string kKey = "fuzz-0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::int64_t kNow = 1'800'000'000;

const JwtCodec& codec() {
  static const JwtCodec c(kKey, std::chrono::seconds(3600));
  return c;
}

std::string sign(const std::string& input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}
// Found by this harness (fuzz/regressions/jwt/, fixed in 4ecd1f0): a signed "exp"/"iat"
// that is a double outside int64 (1e19, 1e400 = inf, 0e400 = NaN) was cast to int64 in
// integer_claim: UB. With --lenient such payloads are skipped, should it come back.
bool reaches_known_defect(std::string_view payload) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(payload, ec);
  if (ec || !v.is_object()) return false;
  for (const char* name : {"exp", "iat"}) {
    const auto* c = v.as_object().if_contains(name);
    if (c != nullptr && c->is_double() && !(c->as_double() > -9.2e18 && c->as_double() < 9.2e18)) {
      return true;
    }
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto rest = fuzz::as_text(data + 1, size - 1);
  std::string token;
  switch (data[0] % 3) {
    case 0:
      token = std::string(rest);
      break;
    case 1: {
      const auto nl = rest.find('\n');
      const auto header = rest.substr(0, nl);
      const auto payload = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      if (!fuzz::strict() && reaches_known_defect(payload)) return 0;
      token = sign(base64url_encode(header) + "." + base64url_encode(payload));
      break;
    }
    default:
      if (!fuzz::strict() && reaches_known_defect(rest)) return 0;
      token =
          sign(base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(rest));
  }
  const auto claims = codec().verify(token, kNow);
  if (claims) {
    FUZZ_CHECK(claims->user_id > 0, fuzz::printable(token));  // a non-empty, positive subject
    FUZZ_CHECK(claims->expires_at > kNow, fuzz::printable(token));
    // A token verifies only with its own key.
    const JwtCodec other(kKey + "x", std::chrono::seconds(3600));
    FUZZ_CHECK(!other.verify(token, kNow), fuzz::printable(token));
    // Tampering with the signature's last character breaks it.
    std::string tampered = token;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    FUZZ_CHECK(!codec().verify(tampered, kNow), fuzz::printable(token));
  }
  // issue/verify round trip for a user id taken from the (short) input.
  if (size > 9) return 0;
  std::uint64_t mixed = 1;
  for (std::size_t i = 0; i < size && i < 8; ++i) mixed = mixed * 251 + data[i];
  const auto uid = static_cast<std::int64_t>(mixed % static_cast<std::uint64_t>(INT64_MAX)) + 1;
  const auto issued = codec().issue(uid, kNow);
  const auto back = codec().verify(issued, kNow);
  FUZZ_CHECK(back && back->user_id == uid && back->expires_at == kNow + 3600, issued);
  FUZZ_CHECK(!codec().verify(issued, kNow + 3600), issued);  // expired at exp
  return 0;
}
