// Image sequences: a directory of images sorted by name (natural order:
// digit runs compare as numbers, so frame_2 < frame_10), or a printf pattern
// ("frames/%04d.png": every file it matches, in numeric order; gaps are
// allowed and reported in VideoInfo). Binary PPM/PGM is read natively; other
// formats (PNG, JPEG, BMP, TIFF, WebP) by libav when the build has FFmpeg.
// All images must have the first one's size. EXIF orientation is not applied.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <system_error>
#include <vector>

#include "frame_source.hpp"
#include "pnm_image.hpp"

#ifdef VANELIA_HAVE_FFMPEG
#include "libav_common.hpp"
#endif

namespace vanelia::internal {
namespace {

namespace fs = std::filesystem;

const std::regex& PatternRegex() {
  static const std::regex kPattern("%0?[0-9]*d");
  return kPattern;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return text;
}

std::string Extension(const std::string& path) {
  return Lower(fs::path(path).extension().string());
}

bool IsPnm(const std::string& path) {
  const std::string ext = Extension(path);
  return ext == ".ppm" || ext == ".pgm" || ext == ".pnm";
}

// Natural order: runs of digits compare by value.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) != 0 &&
        std::isdigit(static_cast<unsigned char>(b[j])) != 0) {
      size_t ie = i;
      size_t je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie])))
        ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je])))
        ++je;
      std::string da = a.substr(i, ie - i);
      std::string db = b.substr(j, je - j);
      da.erase(0, std::min(da.find_first_not_of('0'), da.size()));
      db.erase(0, std::min(db.find_first_not_of('0'), db.size()));
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

struct NumberedFiles {
  std::vector<std::string> paths;
  std::vector<int64_t> numbers;  // the pattern's number of each file
};

std::vector<std::string> ListDirectory(const std::string& path) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    if (entry.is_regular_file() && IsImageFile(entry.path().string())) {
      files.push_back(entry.path().string());
    }
  }
  if (error) {
    throw DecodeError("image sequence '" + path +
                      "': cannot list: " + error.message());
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return NaturalLess(fs::path(a).filename().string(),
                       fs::path(b).filename().string());
  });
  if (files.empty()) {
    throw DecodeError(
        "'" + path +
        "' is a directory without images (.png, .jpg, .ppm, "
        "...): " +
        std::make_error_code(std::errc::is_a_directory).message());
  }
  return files;
}

// The files of a printf pattern: every file of the pattern's folder whose
// name is the pattern with some number written by its format (so "%04d"
// matches 0007 and 12345, not 7; "%d" matches 7, not 007), in numeric order.
NumberedFiles ExpandPattern(const std::string& pattern) {
  const fs::path path(pattern);
  const std::string name_pattern = path.filename().string();
  std::smatch match;
  if (!std::regex_search(name_pattern, match, PatternRegex())) {
    throw InputError("image sequence '" + pattern +
                     "': the number pattern (%04d) must be in the file "
                     "name, not in a folder's");
  }
  const std::string prefix = match.prefix().str();
  const std::string format = match.str();
  const std::string suffix = match.suffix().str();
  const fs::path folder =
      path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0 ||
        !entry.is_regular_file()) {
      continue;
    }
    const std::string middle =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    const size_t digits = middle.find_first_not_of(' ');
    if (digits == std::string::npos || middle.size() - digits > 18 ||
        middle.find_first_not_of("0123456789", digits) != std::string::npos) {
      continue;
    }
    const int64_t number = std::stoll(middle.substr(digits));
    char written[64];
    std::snprintf(written,
                  sizeof(written),
                  format.c_str(),
                  static_cast<long long>(number));
    if (middle == written) found.emplace_back(number, entry.path().string());
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    throw DecodeError("image sequence '" + pattern + "': cannot list '" +
                      folder.string() + "': " + error.message());
  }
  if (found.empty()) {
    throw DecodeError(
        "image sequence '" + pattern + "': no file matches: " +
        std::make_error_code(std::errc::no_such_file_or_directory).message());
  }
  std::sort(found.begin(), found.end());
  NumberedFiles files;
  for (const auto& [number, file] : found) {
    files.numbers.push_back(number);
    files.paths.push_back(file);
  }
  return files;
}

// Inclusive ranges of the numbers missing between sorted `numbers`.
std::vector<std::pair<int64_t, int64_t>> MissingNumbers(
    const std::vector<int64_t>& numbers) {
  std::vector<std::pair<int64_t, int64_t>> missing;
  for (size_t i = 1; i < numbers.size(); ++i) {
    if (numbers[i] > numbers[i - 1] + 1) {
      missing.emplace_back(numbers[i - 1] + 1, numbers[i] - 1);
    }
  }
  return missing;
}

class ImageSequenceSource : public FrameSource {
 public:
  ImageSequenceSource(const std::string& path, const ReadOptions& options)
      : options_(options)
#ifdef VANELIA_HAVE_FFMPEG
        ,
        converter_(1)
#endif
  {
    std::vector<int64_t> numbers;
    if (!fs::is_directory(path) && std::regex_search(path, PatternRegex())) {
      NumberedFiles numbered = ExpandPattern(path);
      files_ = std::move(numbered.paths);
      numbers = std::move(numbered.numbers);
      info_.numbered = true;
      info_.first_number = numbers.front();
      info_.last_number = numbers.back();
      info_.missing_numbers = MissingNumbers(numbers);
    } else {
      files_ = ImageSequenceFiles(path);
    }
    std::string codec;
    const Image first = Decode(files_.front(), 0, 0, &codec);
    const int64_t n = static_cast<int64_t>(files_.size());
    info_.path = path;
    info_.width = info_.coded_width = first.width;
    info_.height = info_.coded_height = first.height;
    info_.fps = Reduce(options.sequence_fps);
    info_.frame_count = info_.source_frame_count = n;
    info_.duration_s = static_cast<double>(n) * info_.fps.den / info_.fps.num;
    info_.codec = codec;
    info_.pixel_format = "rgb24";
    info_.color_range = "pc";
    info_.color_primaries = "unknown";
    info_.color_space = "unknown";
    info_.is_image_sequence = true;
    report_.source_frames = report_.output_frames = n;
    report_.time_base = {info_.fps.den, info_.fps.num};
    for (int64_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i) * info_.fps.den / info_.fps.num;
      const int64_t source = numbers.empty() ? i : numbers[i];
      mapping_.push_back({i, source, source, t, t});
    }
  }

  const VideoInfo& Info() const override {
    return info_;
  }

  const std::vector<FrameMapping>& Mapping() const override {
    return mapping_;
  }

  const CfrReport& Cfr() const override {
    return report_;
  }

  void Read(int64_t index, Frame* frame) override {
    const OutputSize out =
        ComputeOutputSize(info_.width, info_.height, options_);
    frame->index = index;
    frame->timestamp_s = mapping_.at(index).timestamp_s;
    frame->rgb = Decode(files_.at(index), out.width, out.height, nullptr);
  }

 private:
  // Decodes one file at width x height (0 = its own size).
  Image Decode(const std::string& file,
               int width,
               int height,
               std::string* codec) {
    if (IsPnm(file)) {
      if (codec != nullptr) *codec = "ppm";
      Image image = ReadPnm(file);
      CheckSize(file, image.width, image.height);
      return width > 0 ? ResizeBilinear(image, width, height) : image;
    }
#ifdef VANELIA_HAVE_FFMPEG
    FramePtr decoded = DecodeImageFile(file, codec);
    CheckSize(file, decoded->width, decoded->height);
    return converter_.Convert(*decoded,
                              width > 0 ? width : decoded->width,
                              height > 0 ? height : decoded->height);
#else
    throw DecodeError("image '" + file +
                      "': this build has no FFmpeg and reads only binary "
                      "PPM/PGM images (.ppm, .pgm)");
#endif
  }

  void CheckSize(const std::string& file, int width, int height) const {
    if (info_.width > 0 && (width != info_.width || height != info_.height)) {
      throw DecodeError(
          "image '" + file + "' is " + std::to_string(width) + "x" +
          std::to_string(height) + "; the sequence's first image is " +
          std::to_string(info_.width) + "x" + std::to_string(info_.height));
    }
  }

  ReadOptions options_;
  std::vector<std::string> files_;
  VideoInfo info_;
  std::vector<FrameMapping> mapping_;
  CfrReport report_;
#ifdef VANELIA_HAVE_FFMPEG
  RgbConverter converter_;
#endif
};

}  // namespace

bool IsImageSequencePath(const std::string& path) {
  return fs::is_directory(path) || std::regex_search(path, PatternRegex());
}

bool IsImageFile(const std::string& path) {
  static const std::vector<std::string> kExtensions = {".png",
                                                       ".jpg",
                                                       ".jpeg",
                                                       ".bmp",
                                                       ".tif",
                                                       ".tiff",
                                                       ".webp",
                                                       ".ppm",
                                                       ".pgm",
                                                       ".pnm"};
  const std::string ext = Extension(path);
  return std::find(kExtensions.begin(), kExtensions.end(), ext) !=
         kExtensions.end();
}

std::vector<std::string> ImageSequenceFiles(const std::string& path) {
  if (fs::is_directory(path)) return ListDirectory(path);
  if (std::regex_search(path, PatternRegex())) {
    return ExpandPattern(path).paths;
  }
  return {path};
}

std::unique_ptr<FrameSource> OpenImageSequence(const std::string& path,
                                               const ReadOptions& options) {
  return std::make_unique<ImageSequenceSource>(path, options);
}

}  // namespace vanelia::internal
