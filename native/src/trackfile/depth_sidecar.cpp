// The depth sidecar (depth_sidecar.hpp): NumPy .npy files, format 1.0
// (numpy/lib/format.py's documented layout: magic, version, header length,
// a Python-literal dict header padded to 64 bytes, then the raw array).
#include "vanelia/trackfile/depth_sidecar.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[] = "\x93NUMPY";

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]) +
         (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    if (i + 1 < shape.size()) s += " ";
  }
  return s + ")";
}

// The bytes of an .npy file of `shape` and `descr` holding `data`.
std::string NpyBytes(const std::string& descr,
                     const std::vector<int64_t>& shape,
                     const void* data,
                     size_t bytes) {
  std::string header =
      "{'descr': '" + descr +
      "', 'fortran_order': False, 'shape': " + ShapeText(shape) + ", }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

struct Npy {
  std::string descr;
  std::vector<int64_t> shape;
  std::string data;  // raw bytes
};

[[noreturn]] void Bad(const std::string& path, const std::string& rule) {
  throw InputError("depth sidecar '" + path + "': " + rule);
}

// The value text of `key` in the header dict ("" when missing).
std::string HeaderValue(const std::string& header, const std::string& key) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return "";
  size_t begin = header.find(':', at);
  if (begin == std::string::npos) return "";
  ++begin;
  while (begin < header.size() && header[begin] == ' ') ++begin;
  const char open = header[begin];
  const char close = open == '(' ? ')' : open == '\'' ? '\'' : ',';
  const size_t end = header.find(close, begin + 1);
  if (end == std::string::npos) return "";
  return header.substr(begin, end - begin + (close == ',' ? 0 : 1));
}

Npy ReadNpy(const std::string& path) {
  if (!fs::is_regular_file(path)) Bad(path, "missing");
  std::string bytes = ReadFile(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    Bad(path, "not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0;
  size_t start = 0;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(bytes[8]) |
        (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) Bad(path, "truncated header");
    for (int i = 0; i < 4; ++i) {
      header_len |=
          static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i]))
          << (8 * i);
    }
    start = 12;
  } else {
    Bad(path, "npy version " + std::to_string(major) + "; must be 1, 2 or 3");
  }
  if (bytes.size() < start + header_len) Bad(path, "truncated header");
  const std::string header = bytes.substr(start, header_len);
  Npy npy;
  const std::string descr = HeaderValue(header, "descr");
  if (descr.size() < 2) Bad(path, "header without 'descr'");
  npy.descr = descr.substr(1, descr.size() - 2);
  if (HeaderValue(header, "fortran_order") != "False") {
    Bad(path, "fortran_order must be False (C order)");
  }
  const std::string shape = HeaderValue(header, "shape");
  if (shape.size() < 2) Bad(path, "header without 'shape'");
  size_t pos = 1;
  while (pos < shape.size() - 1) {
    while (pos < shape.size() && (shape[pos] == ' ' || shape[pos] == ',')) {
      ++pos;
    }
    if (pos >= shape.size() - 1) break;
    size_t used = 0;
    npy.shape.push_back(std::stoll(shape.substr(pos), &used));
    pos += used;
  }
  npy.data = bytes.substr(start + header_len);
  return npy;
}

size_t ItemSize(const std::string& descr) {
  if (descr == "<f4") return 4;
  if (descr == "<f2") return 2;
  if (descr == "<f8" || descr == "<i8") return 8;
  if (descr == "|u1") return 1;
  return 0;
}

// IEEE half -> float.
float HalfToFloat(uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    value = mantissa ? NAN : INFINITY;
  } else {
    value = std::ldexp(static_cast<float>(mantissa + 1024), exponent - 25);
  }
  return sign ? -value : value;
}

// The values of `npy` (shape checked against `shape`) as floats.
std::vector<float> Floats(const std::string& path,
                          const Npy& npy,
                          const std::vector<int64_t>& shape,
                          bool allow_u1) {
  if (npy.shape != shape) {
    Bad(path,
        "shape " + ShapeText(npy.shape) + "; must be " + ShapeText(shape));
  }
  const bool ok = npy.descr == "<f4" || npy.descr == "<f2" ||
                  (allow_u1 && npy.descr == "|u1");
  if (!ok) {
    Bad(path,
        "dtype '" + npy.descr + "'; must be '<f4' or '<f2'" +
            (allow_u1 ? " or '|u1'" : ""));
  }
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  if (npy.data.size() != n * ItemSize(npy.descr)) {
    Bad(path,
        "holds " + std::to_string(npy.data.size()) + " data bytes; " +
            "its shape and dtype need " +
            std::to_string(n * ItemSize(npy.descr)));
  }
  std::vector<float> out(n);
  const char* p = npy.data.data();
  for (size_t i = 0; i < n; ++i) {
    if (npy.descr == "<f4") {
      std::memcpy(&out[i], p + 4 * i, 4);
    } else if (npy.descr == "<f2") {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = HalfToFloat(h);
    } else {
      out[i] = static_cast<unsigned char>(p[i]) / 255.0f;
    }
  }
  return out;
}

}  // namespace

void DepthMaps::Check() const {
  const auto fail = [](const std::string& field, const std::string& rule) {
    throw InputError("DepthMaps::" + field + ": " + rule);
  };
  if (width < 1 || height < 1) {
    fail("width/height",
         std::to_string(width) + "x" + std::to_string(height) +
             "; must be >= 1");
  }
  const size_t f = frame_index.size();
  if (f == 0) fail("frame_index", "empty; must hold at least one map");
  if (intrinsics.size() != f) fail("intrinsics", "must hold one per map");
  const size_t n = f * static_cast<size_t>(Pixels());
  if (depth.size() != n) fail("depth", "must hold count x height x width");
  if (confidence.size() != n) {
    fail("confidence", "must hold count x height x width");
  }
  for (size_t i = 0; i < f; ++i) {
    if (i > 0 && frame_index[i] <= frame_index[i - 1]) {
      fail("frame_index", "must ascend strictly");
    }
    if (!(intrinsics[i][0] > 0 && intrinsics[i][1] > 0)) {
      fail("intrinsics[" + std::to_string(i) + "]", "fx, fy must be > 0");
    }
  }
}

std::string DepthSidecarFolderFor(const std::string& track_path) {
  std::string stem = track_path;
  const std::string json = ".json";
  if (stem.size() > json.size() &&
      stem.compare(stem.size() - json.size(), json.size(), json) == 0) {
    stem.resize(stem.size() - json.size());
  }
  return stem + ".depth";
}

void WriteDepthSidecar(const std::string& folder, const DepthMaps& maps) {
  maps.Check();
  std::error_code error;
  fs::create_directories(folder, error);
  if (!fs::is_directory(folder)) {
    throw InputError("depth sidecar '" + folder + "': cannot make the folder");
  }
  const int64_t f = maps.Count();
  const std::vector<int64_t> shape = {f, maps.height, maps.width};
  std::vector<double> k(4 * f);
  for (int64_t i = 0; i < f; ++i) {
    for (int j = 0; j < 4; ++j) k[4 * i + j] = maps.intrinsics[i][j];
  }
  WriteFileAtomic(
      folder + "/depth.npy",
      NpyBytes("<f4", shape, maps.depth.data(), maps.depth.size() * 4),
      true);
  WriteFileAtomic(
      folder + "/confidence.npy",
      NpyBytes("|u1", shape, maps.confidence.data(), maps.confidence.size()),
      true);
  WriteFileAtomic(folder + "/intrinsics.npy",
                  NpyBytes("<f8", {f, 4}, k.data(), k.size() * 8),
                  true);
  WriteFileAtomic(
      folder + "/frame_index.npy",
      NpyBytes(
          "<i8", {f}, maps.frame_index.data(), maps.frame_index.size() * 8),
      true);
}

DepthMaps ReadDepthSidecar(const std::string& folder) {
  const std::string index_path = folder + "/frame_index.npy";
  const Npy index = ReadNpy(index_path);
  if (index.descr != "<i8" || index.shape.size() != 1 || index.shape[0] < 1 ||
      index.data.size() != static_cast<size_t>(index.shape[0]) * 8) {
    Bad(index_path, "must be a non-empty [F] '<i8' array");
  }
  DepthMaps maps;
  const int64_t f = index.shape[0];
  maps.frame_index.resize(f);
  std::memcpy(maps.frame_index.data(), index.data.data(), f * 8);
  const std::string k_path = folder + "/intrinsics.npy";
  const Npy k = ReadNpy(k_path);
  if (k.descr != "<f8" || k.shape != std::vector<int64_t>{f, 4} ||
      k.data.size() != static_cast<size_t>(f) * 32) {
    Bad(k_path, "must be a [F, 4] '<f8' array (F = " + std::to_string(f) + ")");
  }
  maps.intrinsics.resize(f);
  for (int64_t i = 0; i < f; ++i) {
    std::memcpy(maps.intrinsics[i].data(), k.data.data() + 32 * i, 32);
  }
  const std::string depth_path = folder + "/depth.npy";
  const Npy depth = ReadNpy(depth_path);
  if (depth.shape.size() != 3 || depth.shape[1] < 1 || depth.shape[2] < 1) {
    Bad(depth_path, "shape " + ShapeText(depth.shape) + "; must be [F, H, W]");
  }
  maps.height = static_cast<int>(depth.shape[1]);
  maps.width = static_cast<int>(depth.shape[2]);
  const std::vector<int64_t> shape = {f, maps.height, maps.width};
  maps.depth = Floats(depth_path, depth, shape, false);
  const std::string conf_path = folder + "/confidence.npy";
  const std::vector<float> conf =
      Floats(conf_path, ReadNpy(conf_path), shape, true);
  maps.confidence.resize(conf.size());
  for (size_t i = 0; i < conf.size(); ++i) {
    const float c = std::isfinite(conf[i]) ? conf[i] : 0.0f;
    maps.confidence[i] = static_cast<uint8_t>(
        std::lround(255.0f * std::min(1.0f, std::max(0.0f, c))));
  }
  maps.Check();
  return maps;
}

}  // namespace vanelia
