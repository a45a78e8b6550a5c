// Reads NumPy .npy files (format 1.0/2.0/3.0) for tests: the parity fixtures
// under tests/data are written by numpy.save.
//
// Supported: C order, little endian (or byte-free) dtypes '<f4', '<f8',
// '<i8', '<i4', '|u1', '|b1'. Anything else (Fortran order, big endian,
// object arrays, a truncated file) throws std::runtime_error naming the file
// and the rule. Header-only, no LibTorch: testing/npy_tensor.hpp turns an
// NpyArray into a tensor.
//
//   NpyArray a = ReadNpy("tests/data/must3r/tiny_kv/s1_init/enc_x.npy");
//   std::vector<float> v = a.AsFloat32();  // any numeric dtype, converted
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace vanelia::testing {

enum class NpyDtype { kFloat32, kFloat64, kInt64, kInt32, kUInt8, kBool };

struct NpyArray {
  NpyDtype dtype = NpyDtype::kFloat32;
  std::vector<int64_t> shape;  // empty for a 0-d array
  std::vector<uint8_t> data;   // raw little-endian bytes, C order
  std::string descr;           // numpy's descr, e.g. "<f4"

  int64_t NumElements() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }

  size_t ItemSize() const {
    switch (dtype) {
      case NpyDtype::kFloat64:
      case NpyDtype::kInt64:
        return 8;
      case NpyDtype::kFloat32:
      case NpyDtype::kInt32:
        return 4;
      case NpyDtype::kUInt8:
      case NpyDtype::kBool:
        return 1;
    }
    return 1;
  }

  // Element i converted to double, whatever the dtype.
  double At(int64_t i) const {
    const uint8_t* p = data.data() + static_cast<size_t>(i) * ItemSize();
    switch (dtype) {
      case NpyDtype::kFloat32: {
        float v;
        std::memcpy(&v, p, 4);
        return v;
      }
      case NpyDtype::kFloat64: {
        double v;
        std::memcpy(&v, p, 8);
        return v;
      }
      case NpyDtype::kInt64: {
        int64_t v;
        std::memcpy(&v, p, 8);
        return static_cast<double>(v);
      }
      case NpyDtype::kInt32: {
        int32_t v;
        std::memcpy(&v, p, 4);
        return v;
      }
      case NpyDtype::kUInt8:
      case NpyDtype::kBool:
        return *p;
    }
    return 0.0;
  }

  std::vector<float> AsFloat32() const {
    std::vector<float> out(static_cast<size_t>(NumElements()));
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = static_cast<float>(At(static_cast<int64_t>(i)));
    }
    return out;
  }

  std::vector<double> AsFloat64() const {
    std::vector<double> out(static_cast<size_t>(NumElements()));
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = At(static_cast<int64_t>(i));
    return out;
  }

  std::vector<int64_t> AsInt64() const {
    std::vector<int64_t> out(static_cast<size_t>(NumElements()));
    for (size_t i = 0; i < out.size(); ++i) {
      if (dtype == NpyDtype::kInt64) {
        std::memcpy(&out[i], data.data() + i * 8, 8);
      } else {
        out[i] = static_cast<int64_t>(At(static_cast<int64_t>(i)));
      }
    }
    return out;
  }
};

namespace npy_internal {

[[noreturn]] inline void Fail(const std::string& path,
                              const std::string& what) {
  throw std::runtime_error("npy file '" + path + "': " + what);
}

// Value of `'key': <value>` in numpy's header dict, up to the next ',' or '}'
// (or the closing quote / paren for strings and tuples).
inline std::string HeaderField(const std::string& path,
                               const std::string& header,
                               const std::string& key) {
  const std::string pattern = "'" + key + "':";
  size_t pos = header.find(pattern);
  if (pos == std::string::npos) Fail(path, "header has no '" + key + "'");
  pos += pattern.size();
  while (pos < header.size() && header[pos] == ' ') ++pos;
  if (pos >= header.size()) Fail(path, "header ends after '" + key + "'");
  size_t end;
  if (header[pos] == '\'') {
    end = header.find('\'', pos + 1);
    if (end == std::string::npos) Fail(path, "unterminated string in header");
    return header.substr(pos + 1, end - pos - 1);
  }
  if (header[pos] == '(') {
    end = header.find(')', pos);
    if (end == std::string::npos) Fail(path, "unterminated tuple in header");
    return header.substr(pos + 1, end - pos - 1);
  }
  end = header.find_first_of(",}", pos);
  if (end == std::string::npos) Fail(path, "malformed header");
  return header.substr(pos, end - pos);
}

}  // namespace npy_internal

inline NpyArray ReadNpy(const std::string& path) {
  using npy_internal::Fail;
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(path, "cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    Fail(path, "not a .npy file (bad magic)");
  }
  const int major = bytes[6];
  size_t header_len;
  size_t header_start;
  if (major == 1) {
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) Fail(path, "truncated header");
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) |
                 (static_cast<size_t>(bytes[10]) << 16) |
                 (static_cast<size_t>(bytes[11]) << 24);
    header_start = 12;
  } else {
    Fail(path, "format version " + std::to_string(major) + " unsupported");
  }
  if (header_start + header_len > bytes.size()) Fail(path, "truncated header");
  const std::string header(
      reinterpret_cast<const char*>(bytes.data()) + header_start, header_len);

  NpyArray a;
  a.descr = npy_internal::HeaderField(path, header, "descr");
  if (a.descr == "<f4") {
    a.dtype = NpyDtype::kFloat32;
  } else if (a.descr == "<f8") {
    a.dtype = NpyDtype::kFloat64;
  } else if (a.descr == "<i8") {
    a.dtype = NpyDtype::kInt64;
  } else if (a.descr == "<i4") {
    a.dtype = NpyDtype::kInt32;
  } else if (a.descr == "|u1") {
    a.dtype = NpyDtype::kUInt8;
  } else if (a.descr == "|b1") {
    a.dtype = NpyDtype::kBool;
  } else {
    Fail(path,
         "dtype '" + a.descr + "' unsupported (want <f4 <f8 <i8 <i4 |u1 |b1)");
  }
  if (npy_internal::HeaderField(path, header, "fortran_order") != "False") {
    Fail(path, "fortran_order arrays unsupported");
  }
  const std::string shape = npy_internal::HeaderField(path, header, "shape");
  size_t pos = 0;
  while (pos < shape.size()) {
    const size_t comma = shape.find(',', pos);
    std::string item = shape.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    item.erase(0, item.find_first_not_of(' '));
    if (!item.empty()) a.shape.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const size_t data_start = header_start + header_len;
  const size_t nbytes = static_cast<size_t>(a.NumElements()) * a.ItemSize();
  if (bytes.size() - data_start < nbytes) {
    Fail(path,
         "truncated data: " + std::to_string(bytes.size() - data_start) +
             " bytes, want " + std::to_string(nbytes));
  }
  a.data.assign(
      bytes.begin() + static_cast<std::ptrdiff_t>(data_start),
      bytes.begin() + static_cast<std::ptrdiff_t>(data_start + nbytes));
  return a;
}

}  // namespace vanelia::testing
