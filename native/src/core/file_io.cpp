#include "vanelia/core/file_io.hpp"

#include "vanelia/core/error.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

// SHA-256 (FIPS 180-4), small and dependency-free.
class Sha256Hasher {
 public:
  Sha256Hasher() { Reset(); }

  void Update(const uint8_t* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      block_[block_size_++] = data[i];
      if (block_size_ == 64) {
        Compress();
        block_size_ = 0;
      }
    }
    bit_count_ += static_cast<uint64_t>(size) * 8;
  }

  std::string HexDigest() {
    const uint64_t bits = bit_count_;
    const uint8_t pad = 0x80;
    Update(&pad, 1);
    const uint8_t zero = 0;
    while (block_size_ != 56) Update(&zero, 1);
    std::array<uint8_t, 8> length{};
    for (int i = 0; i < 8; ++i) {
      length[7 - i] = static_cast<uint8_t>(bits >> (8 * i));
    }
    Update(length.data(), 8);
    std::string hex;
    char buffer[9];
    for (uint32_t word : state_) {
      std::snprintf(buffer, sizeof(buffer), "%08x", word);
      hex += buffer;
    }
    return hex;
  }

 private:
  static uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void Reset() {
    state_ = {0x6a09e667,
              0xbb67ae85,
              0x3c6ef372,
              0xa54ff53a,
              0x510e527f,
              0x9b05688c,
              0x1f83d9ab,
              0x5be0cd19};
    block_size_ = 0;
    bit_count_ = 0;
  }

  void Compress() {
    static constexpr std::array<uint32_t, 64> kRound = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
        0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
        0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::array<uint32_t, 64> w{};
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{block_[4 * i]} << 24) |
             (uint32_t{block_[4 * i + 1]} << 16) |
             (uint32_t{block_[4 * i + 2]} << 8) | uint32_t{block_[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 =
          Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 =
          Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t s1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = h + s1 + ch + kRound[i] + w[i];
      const uint32_t s0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
      const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = s0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
  }

  std::array<uint32_t, 8> state_{};
  std::array<uint8_t, 64> block_{};
  size_t block_size_ = 0;
  uint64_t bit_count_ = 0;
};

}  // namespace

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {};

  struct stat sb {};

  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void CheckNotAnInput(const std::string& path,
                     const std::string& what,
                     const std::vector<std::string>& inputs) {
  for (const std::string& input : inputs) {
    if (!input.empty() && SameFile(path, input)) {
      std::string message = what;
      message += " '" + path + "': is the input '";
      message += input;
      message += "'; write the result to another file";
      throw InputError(message);
    }
  }
}

void CheckCanWrite(const std::string& path,
                   bool overwrite,
                   const std::string& what,
                   const std::vector<std::string>& inputs) {
  CheckNotAnInput(path, what, inputs);
  std::error_code ec;
  if (fs::exists(path, ec) && !overwrite) {
    throw InputError(what + " '" + path +
                     "' already exists; pass --overwrite to replace it");
  }
  if (fs::is_directory(path, ec)) {
    throw InputError(what + " '" + path + "' is a directory; expected a file");
  }
  const fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
  if (!fs::is_directory(parent, ec)) {
    throw InputError(what + " '" + path + "': folder '" + parent.string() +
                     "' does not exist");
  }
  if (access(parent.c_str(), W_OK) != 0) {
    throw InputError(what + " '" + path + "': folder '" + parent.string() +
                     "' is not writable");
  }
}

void WriteFileAtomic(const std::string& path,
                     const std::string& contents,
                     bool overwrite) {
  CheckCanWrite(path, overwrite);
  std::random_device random;
  const std::string temp = path + ".tmp" + std::to_string(random() % 1000000u);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw InputError("cannot write '" + temp +
                       "': " + std::generic_category().message(errno));
    }
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(temp, ec);
      throw InputError("cannot write '" + temp + "': disk full or I/O error");
    }
  }
  std::error_code ec;
  // Re-check right before the rename: never replace a file that appeared
  // while we were writing unless allowed.
  if (!overwrite && fs::exists(path, ec)) {
    fs::remove(temp, ec);
    throw InputError("output '" + path +
                     "' already exists; pass --overwrite to replace it");
  }
  fs::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw InputError("cannot rename '" + temp + "' to '" + path +
                     "': " + ec.message());
  }
}

std::string ReadFile(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError("'" + path + "' is a directory; expected a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError("cannot read '" + path +
                     "': " + std::generic_category().message(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Sha256(const std::string& bytes) {
  Sha256Hasher hasher;
  hasher.Update(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return hasher.HexDigest();
}

std::string Sha256OfFile(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError("'" + path + "' is a directory; expected a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError("cannot read '" + path +
                     "': " + std::generic_category().message(errno));
  }
  Sha256Hasher hasher;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0) {
      hasher.Update(reinterpret_cast<const uint8_t*>(buffer.data()),
                    static_cast<size_t>(got));
    }
  }
  return hasher.HexDigest();
}

}  // namespace vanelia
