// Read-only access to a zip archive as written by torch.save (PyTorch's
// "zip file serialization": uncompressed "stored" entries, 64-byte aligned,
// zip64 records when large). No zip library: the central directory is parsed
// here and entries are read on demand, so a multi-GB checkpoint is never held
// twice in memory. Compressed (deflate) entries are refused with a clear
// ModelError, as torch never writes them.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace vanelia {

struct ZipEntry {
  std::string name;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint16_t method = 0;  // 0 = stored
  uint32_t crc32 = 0;
};

class ZipArchive {
 public:
  // Opens `path` and reads its central directory. Throws ModelError for an
  // unreadable, empty, truncated or non-zip file; messages start with `what`
  // (default: "zip archive '<path>'").
  explicit ZipArchive(const std::string& path, const std::string& what = "");

  const std::string& Path() const { return path_; }

  const std::vector<ZipEntry>& Entries() const { return entries_; }

  // nullptr when absent.
  const ZipEntry* Find(const std::string& name) const;

  // Whole content of an entry (checks its CRC-32).
  std::string Read(const ZipEntry& entry);
  // Reads an entry into `dst` of exactly entry.uncompressed_size bytes
  // (checks its CRC-32).
  void ReadInto(const ZipEntry& entry, void* dst, uint64_t size);

 private:
  // Where the central directory lies (defined in zip_archive.cpp).
  struct CentralDirectoryLocation;

  // Finds the end-of-central-directory record (and its zip64 record).
  CentralDirectoryLocation LocateCentralDirectory();
  // Reads the central directory at `location` into entries_.
  void ReadCentralDirectory(const CentralDirectoryLocation& location);
  uint64_t DataOffset(const ZipEntry& entry);

  [[noreturn]] void Fail(const std::string& message) const;
  void ReadAt(uint64_t offset, void* dst, uint64_t size);

  std::string path_;
  std::string what_;
  std::ifstream file_;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
};

// CRC-32 (IEEE, as zip uses), continuing from `crc` (0 to start).
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace vanelia
