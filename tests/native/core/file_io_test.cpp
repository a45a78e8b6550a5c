#include "vanelia/core/file_io.hpp"

#include "vanelia/core/error.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("vanelia_core_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(WriteFileAtomic, WritesAndRefusesToOverwrite) {
  const fs::path dir = TempDir("atomic");
  const std::string path = (dir / "out.json").string();
  WriteFileAtomic(path, "first", false);
  EXPECT_EQ(ReadFile(path), "first");
  try {
    WriteFileAtomic(path, "second", false);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("--overwrite"), std::string::npos);
  }
  EXPECT_EQ(ReadFile(path), "first");  // untouched
  WriteFileAtomic(path, "second", true);
  EXPECT_EQ(ReadFile(path), "second");
  // No temporary files left behind.
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++count;
  }
  EXPECT_EQ(count, 1);
}

TEST(WriteFileAtomic, MissingFolderIsInputError) {
  EXPECT_THROW(WriteFileAtomic("/nonexistent_dir_xyz/a.json", "x", false),
               InputError);
}

TEST(ReadFile, MissingFileNamesIt) {
  try {
    ReadFile("/nonexistent_file_xyz.json");
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("nonexistent_file_xyz"),
              std::string::npos);
  }
}

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(Sha256(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string million(1000000, 'a');
  EXPECT_EQ(Sha256(million),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256OfFile, MatchesInMemoryHash) {
  const fs::path dir = TempDir("sha");
  const std::string path = (dir / "f.bin").string();
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes.push_back(static_cast<char>(i * 7));
  WriteFileAtomic(path, bytes, true);
  EXPECT_EQ(Sha256OfFile(path), Sha256(bytes));
}

}  // namespace
}  // namespace vanelia
