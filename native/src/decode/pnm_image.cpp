#include "pnm_image.hpp"

#include "vanelia/core/error.hpp"

#include <cctype>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vanelia::internal {
namespace {

// Reads the next header token, skipping whitespace and # comments.
bool NextToken(const std::vector<char>& bytes, size_t* pos, std::string* out) {
  out->clear();
  while (*pos < bytes.size()) {
    const char c = bytes[*pos];
    if (c == '#') {
      while (*pos < bytes.size() && bytes[*pos] != '\n') ++*pos;
    } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++*pos;
    } else {
      break;
    }
  }
  while (*pos < bytes.size() &&
         std::isspace(static_cast<unsigned char>(bytes[*pos])) == 0) {
    out->push_back(bytes[(*pos)++]);
  }
  return !out->empty();
}

int ParseHeaderNumber(const std::string& path,
                      const std::string& token,
                      const char* field) {
  int value = 0;
  for (const char c : token) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0 || value > 1000000) {
      std::string message = "image '" + path + "': PNM ";
      message += field;
      message += " '" + token + "' is not a positive integer";
      throw DecodeError(message);
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

Image ReadPnm(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw DecodeError("image '" + path + "': cannot open: No such file or " +
                      "directory");
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  size_t pos = 0;
  std::string magic;
  std::string width_text;
  std::string height_text;
  std::string maxval_text;
  if (!NextToken(bytes, &pos, &magic) || (magic != "P5" && magic != "P6") ||
      !NextToken(bytes, &pos, &width_text) ||
      !NextToken(bytes, &pos, &height_text) ||
      !NextToken(bytes, &pos, &maxval_text)) {
    throw DecodeError("image '" + path +
                      "': not a binary PPM/PGM (P6/P5 header expected)");
  }
  const int width = ParseHeaderNumber(path, width_text, "width");
  const int height = ParseHeaderNumber(path, height_text, "height");
  const int maxval = ParseHeaderNumber(path, maxval_text, "maxval");
  if (width <= 0 || height <= 0 || maxval <= 0 || maxval > 255) {
    throw DecodeError("image '" + path + "': PNM " + width_text + "x" +
                      height_text + " maxval " + maxval_text +
                      "; must be positive with maxval <= 255");
  }
  ++pos;  // the single whitespace after maxval
  const int channels = magic == "P6" ? 3 : 1;
  const size_t needed = static_cast<size_t>(width) * height * channels;
  if (bytes.size() < pos || bytes.size() - pos < needed) {
    throw DecodeError(
        "image '" + path + "': truncated PNM: " + std::to_string(needed) +
        " pixel bytes expected, " +
        std::to_string(bytes.size() > pos ? bytes.size() - pos : 0) +
        " present");
  }
  Image image = Image::Create(width, height, 3);
  const auto* src = reinterpret_cast<const uint8_t*>(bytes.data() + pos);
  for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i) {
    for (int c = 0; c < 3; ++c) {
      const int value = src[i * channels + (channels == 3 ? c : 0)];
      image.data[i * 3 + c] =
          static_cast<uint8_t>(maxval == 255 ? value : value * 255 / maxval);
    }
  }
  return image;
}

}  // namespace vanelia::internal
