// Test clips made at test time with the ffmpeg CLI (lavfi testsrc/sine
// sources), cached under the build folder by a name that includes a hash of
// the generating command, so that parallel CTest processes share them and a
// changed command makes a new clip. Also reference decodes by the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vanelia::testing {

// The repository root and a scratch folder for generated files.
std::string SourceDir();
std::string ClipDir();

// Runs a shell command; throws std::runtime_error with its text on failure.
void RunCommand(const std::string& command);

// Makes `<ClipDir>/<stem>_<hash><ext>` with `ffmpeg -y <args> OUT` unless it
// exists, and returns its path. `args` must not name the output.
std::string MakeClip(const std::string& stem,
                     const std::string& ext,
                     const std::string& args);

// All frames of `path` decoded by the ffmpeg CLI to packed RGB24 with the
// reader's swscale flags; `filters` is an optional -vf chain (e.g. a scale).
// `extra_input` options go before -i (e.g. "-noautorotate").
std::vector<uint8_t> CliDecodeRgb(const std::string& path,
                                  const std::string& filters = "",
                                  const std::string& extra_input = "");

std::vector<uint8_t> ReadBytes(const std::string& path);

// The standard clips.
std::string H264BframesClip();  // 320x240, 24 fps, 48 frames, bf=3, aac audio
std::string HevcClip();         // 320x240, 30 fps, 30 frames, no audio
// Coded 320x176 with a rotate tag (90 or 270): upright 176x320.
std::string PortraitClip(int rotate_tag);
std::string VfrClip();        // 160x120, 24 frames, 12 at 1/24 then 2/24
std::string AudioOnlyClip();  // sine, aac in .m4a

}  // namespace vanelia::testing
