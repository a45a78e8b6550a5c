// File helpers that never lose a user's data: outputs are written to a
// temporary file beside the target and renamed into place, and an existing
// file is replaced only when the caller says so.
#pragma once

#include <string>
#include <vector>

namespace vanelia {

// Writes `contents` to `path` atomically (temporary file + rename). Throws
// InputError when `path` exists and `overwrite` is false, or when the folder
// is missing or not writable.
void WriteFileAtomic(const std::string& path,
                     const std::string& contents,
                     bool overwrite);

// The one place that decides whether an output may be written. Throws
// InputError naming `what` when `path` exists and `overwrite` is false, when
// it is a folder, when its folder is missing or not writable, and, whatever
// `overwrite` says, when it is the same file as one of `inputs` (device and
// inode: links and other spellings of a path count).
void CheckCanWrite(const std::string& path,
                   bool overwrite,
                   const std::string& what = "output",
                   const std::vector<std::string>& inputs = {});

// Throws InputError naming `what` when `path` is the same file as one of
// `inputs` (the check CheckCanWrite makes first, for outputs that may
// otherwise be replaced, such as run's --keep-blend scene).
void CheckNotAnInput(const std::string& path,
                     const std::string& what,
                     const std::vector<std::string>& inputs);

// True when `a` and `b` name the same existing file (device and inode).
bool SameFile(const std::string& a, const std::string& b);

// Reads a whole file; throws InputError naming the file when unreadable.
std::string ReadFile(const std::string& path);

// Hex SHA-256 of a file's bytes (for the track file's `source.sha256` and the
// track cache key). Throws InputError when unreadable.
std::string Sha256OfFile(const std::string& path);

// Hex SHA-256 of a byte string.
std::string Sha256(const std::string& bytes);

}  // namespace vanelia
