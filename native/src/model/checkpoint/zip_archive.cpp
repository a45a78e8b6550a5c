// Zip reading for torch.save archives (APPNOTE.TXT 6.3: end of central
// directory, zip64 locator/record, central directory, local headers).
#include "vanelia/model/checkpoint/zip_archive.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

namespace vanelia {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kMaxComment = 0xFFFF;
constexpr size_t kEndSize = 22;

uint64_t LoadLe(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Slicing-by-8 tables for the reflected IEEE polynomial.
const std::array<std::array<uint32_t, 256>, 8>& CrcTables() {
  static const auto kTables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) {
        t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
      }
    }
    return t;
  }();
  return kTables;
}

// Offset in `tail` (the file's last bytes) of the end-of-central-directory
// record whose comment runs to the end of the file; -1 when there is none.
int64_t FindEndRecord(const std::vector<uint8_t>& tail) {
  const uint64_t tail_size = tail.size();
  int64_t end_pos = -1;
  for (int64_t i = static_cast<int64_t>(tail_size) - kEndSize; i >= 0; --i) {
    if (LoadLe(&tail[i], 4) == kEndSig &&
        i + kEndSize + LoadLe(&tail[i + 20], 2) == tail_size) {
      end_pos = i;
      break;
    }
  }
  return end_pos;
}

// Applies the zip64 extended information of extra field `x` (extra_len
// bytes) to `entry`: the 0xFFFFFFFF fields, in order.
void ApplyZip64Extra(const uint8_t* x, size_t extra_len, ZipEntry* entry) {
  for (size_t q = 0; q + 4 <= extra_len;) {
    const uint64_t id = LoadLe(x + q, 2);
    const size_t len = LoadLe(x + q + 2, 2);
    if (q + 4 + len > extra_len) break;
    if (id == 0x0001) {
      size_t r = q + 4;
      auto next = [&](uint64_t* field) {
        if (*field == 0xFFFFFFFF && r + 8 <= q + 4 + len) {
          *field = LoadLe(x + r, 8);
          r += 8;
        }
      };
      next(&entry->uncompressed_size);
      next(&entry->compressed_size);
      next(&entry->local_header_offset);
    }
    q += 4 + len;
  }
}

}  // namespace

uint32_t Crc32(const void* data, size_t size, uint32_t crc) {
  const auto& t = CrcTables();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  while (size >= 8) {
    const uint32_t lo = c ^ static_cast<uint32_t>(LoadLe(p, 4));
    const auto hi = static_cast<uint32_t>(LoadLe(p + 4, 4));
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^
        t[4][lo >> 24] ^ t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^
        t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

void ZipArchive::Fail(const std::string& message) const {
  throw ModelError(what_ + ": " + message);
}

void ZipArchive::ReadAt(uint64_t offset, void* dst, uint64_t size) {
  if (offset > file_size_ || size > file_size_ - offset) {
    Fail("truncated: needs bytes " + std::to_string(offset) + ".." +
         std::to_string(offset + size) + " but the file has " +
         std::to_string(file_size_) + " bytes");
  }
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(offset));
  file_.read(static_cast<char*>(dst), static_cast<std::streamsize>(size));
  if (!file_) Fail("read error at byte " + std::to_string(offset));
}

struct ZipArchive::CentralDirectoryLocation {
  uint64_t num_entries = 0;
  uint64_t size = 0;    // bytes
  uint64_t offset = 0;  // from the start of the file
};

ZipArchive::ZipArchive(const std::string& path, const std::string& what)
    : path_(path), what_(what.empty() ? "zip archive '" + path + "'" : what) {
  file_.open(path, std::ios::binary);
  if (!file_) Fail("cannot open the file");
  file_.seekg(0, std::ios::end);
  file_size_ = static_cast<uint64_t>(file_.tellg());
  if (file_size_ == 0) Fail("the file is empty");
  ReadCentralDirectory(LocateCentralDirectory());
}

ZipArchive::CentralDirectoryLocation ZipArchive::LocateCentralDirectory() {
  // Find the end-of-central-directory record in the last 64 KiB + 22 bytes.
  const uint64_t tail_size =
      std::min<uint64_t>(file_size_, kMaxComment + kEndSize);
  std::vector<uint8_t> tail(tail_size);
  ReadAt(file_size_ - tail_size, tail.data(), tail_size);
  const int64_t end_pos = FindEndRecord(tail);
  if (end_pos < 0) {
    uint8_t head[4] = {0, 0, 0, 0};
    ReadAt(0, head, std::min<uint64_t>(4, file_size_));
    if (LoadLe(head, 4) == kLocalHeaderSig) {
      Fail(
          "truncated zip archive: it starts like a zip but has no "
          "end-of-central-directory record (" +
          std::to_string(file_size_) + " bytes)");
    }
    Fail("not a zip archive (no end-of-central-directory record; " +
         std::to_string(file_size_) + " bytes)");
  }
  const uint8_t* end = &tail[end_pos];
  const uint64_t end_offset = file_size_ - tail_size + end_pos;
  CentralDirectoryLocation cd;
  cd.num_entries = LoadLe(end + 10, 2);
  cd.size = LoadLe(end + 12, 4);
  cd.offset = LoadLe(end + 16, 4);
  if (LoadLe(end + 4, 2) != 0 || LoadLe(end + 6, 2) != 0) {
    Fail("multi-disk zip archives are not supported");
  }
  if (cd.num_entries == 0xFFFF || cd.size == 0xFFFFFFFF ||
      cd.offset == 0xFFFFFFFF) {
    // zip64: a locator sits right before the end record.
    if (end_offset < 20) Fail("zip64 locator missing");
    uint8_t loc[20];
    ReadAt(end_offset - 20, loc, 20);
    if (LoadLe(loc, 4) != kZip64LocatorSig) Fail("zip64 locator missing");
    uint8_t rec[56];
    ReadAt(LoadLe(loc + 8, 8), rec, 56);
    if (LoadLe(rec, 4) != kZip64EndSig) Fail("zip64 end record missing");
    cd.num_entries = LoadLe(rec + 32, 8);
    cd.size = LoadLe(rec + 40, 8);
    cd.offset = LoadLe(rec + 48, 8);
  }
  return cd;
}

void ZipArchive::ReadCentralDirectory(
    const CentralDirectoryLocation& location) {
  const uint64_t num_entries = location.num_entries;
  const uint64_t cd_size = location.size;
  const uint64_t cd_offset = location.offset;
  if (cd_offset > file_size_ || cd_size > file_size_ - cd_offset) {
    Fail("truncated or corrupt: central directory at bytes " +
         std::to_string(cd_offset) + ".." +
         std::to_string(cd_offset + cd_size) + " but the file has " +
         std::to_string(file_size_) + " bytes");
  }
  std::vector<uint8_t> cd(cd_size);
  ReadAt(cd_offset, cd.data(), cd_size);
  std::set<std::string> names;
  size_t p = 0;
  for (uint64_t e = 0; e < num_entries; ++e) {
    if (cd_size - p < 46 || LoadLe(&cd[p], 4) != kCentralHeaderSig) {
      Fail("corrupt central directory at entry " + std::to_string(e));
    }
    const uint8_t* h = &cd[p];
    ZipEntry entry;
    const uint64_t flags = LoadLe(h + 8, 2);
    entry.method = static_cast<uint16_t>(LoadLe(h + 10, 2));
    entry.crc32 = static_cast<uint32_t>(LoadLe(h + 16, 4));
    entry.compressed_size = LoadLe(h + 20, 4);
    entry.uncompressed_size = LoadLe(h + 24, 4);
    const size_t name_len = LoadLe(h + 28, 2);
    const size_t extra_len = LoadLe(h + 30, 2);
    const size_t comment_len = LoadLe(h + 32, 2);
    entry.local_header_offset = LoadLe(h + 42, 4);
    if (cd_size - p < 46 + name_len + extra_len + comment_len) {
      Fail("corrupt central directory at entry " + std::to_string(e));
    }
    entry.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    ApplyZip64Extra(h + 46 + name_len, extra_len, &entry);
    p += 46 + name_len + extra_len + comment_len;
    if (flags & 1) Fail("entry '" + entry.name + "' is encrypted");
    if (!names.insert(entry.name).second) {
      Fail("entry '" + entry.name + "' appears twice");
    }
    entries_.push_back(std::move(entry));
  }
}

const ZipEntry* ZipArchive::Find(const std::string& name) const {
  for (const ZipEntry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

uint64_t ZipArchive::DataOffset(const ZipEntry& entry) {
  uint8_t h[30];
  ReadAt(entry.local_header_offset, h, 30);
  if (LoadLe(h, 4) != kLocalHeaderSig) {
    Fail("entry '" + entry.name + "': bad local header at byte " +
         std::to_string(entry.local_header_offset));
  }
  const uint64_t offset =
      entry.local_header_offset + 30 + LoadLe(h + 26, 2) + LoadLe(h + 28, 2);
  if (offset > file_size_ || entry.compressed_size > file_size_ - offset) {
    Fail("truncated: entry '" + entry.name + "' needs bytes " +
         std::to_string(offset) + ".." +
         std::to_string(offset + entry.compressed_size) + " but the file has " +
         std::to_string(file_size_) + " bytes");
  }
  return offset;
}

void ZipArchive::ReadInto(const ZipEntry& entry, void* dst, uint64_t size) {
  if (entry.method != 0) {
    Fail("entry '" + entry.name + "' is compressed (method " +
         std::to_string(entry.method) +
         "); only stored entries are supported, as torch.save writes them");
  }
  if (size != entry.uncompressed_size ||
      entry.compressed_size != entry.uncompressed_size) {
    Fail("entry '" + entry.name + "' has " +
         std::to_string(entry.uncompressed_size) + " bytes; expected " +
         std::to_string(size));
  }
  const uint64_t offset = DataOffset(entry);
  constexpr uint64_t kChunk = uint64_t{64} << 20;
  auto* out = static_cast<uint8_t*>(dst);
  uint32_t crc = 0;
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = std::min(kChunk, size - done);
    ReadAt(offset + done, out + done, n);
    crc = Crc32(out + done, n, crc);
    done += n;
  }
  if (crc != entry.crc32) {
    Fail("entry '" + entry.name + "' is corrupt (CRC-32 mismatch)");
  }
}

std::string ZipArchive::Read(const ZipEntry& entry) {
  if (entry.uncompressed_size > file_size_) {
    Fail("entry '" + entry.name + "' claims " +
         std::to_string(entry.uncompressed_size) +
         " bytes, more than the whole file");
  }
  std::string s(entry.uncompressed_size, '\0');
  ReadInto(entry, s.data(), s.size());
  return s;
}

}  // namespace vanelia
