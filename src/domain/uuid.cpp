#include "domain/uuid.hpp"
#include "domain/clock.hpp"
#include "domain/text.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace os::domain {
namespace {

void random_bytes(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

// xoshiro256** (Blackman and Vigna), state from the CSPRNG.
class FastRandom {
 public:
  FastRandom() {
    do {
      random_bytes(reinterpret_cast<unsigned char*>(s_.data()), sizeof(s_));
    } while (s_[0] == 0 && s_[1] == 0 && s_[2] == 0 && s_[3] == 0);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace

std::string uuid_v7() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  const auto ms = static_cast<std::uint64_t>(unix_ms());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x70);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  const auto hex = to_hex(b.data(), b.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  random_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::string correlation_hex(std::size_t bytes) {
  thread_local FastRandom random;
  std::array<unsigned char, 64> raw{};
  const auto n = std::min(bytes, raw.size());
  for (std::size_t i = 0; i < n; i += 8) {
    const auto word = random.next();
    std::memcpy(raw.data() + i, &word, std::min<std::size_t>(8, n - i));
  }
  return n == bytes ? to_hex(raw.data(), n) : random_hex(bytes);
}

}  // namespace os::domain
