// Bindings of the decode module: VideoReader (iterates frames as numpy
// HxWx3 uint8 arrays, decoding with the GIL released), probe_video and
// probe_media.
#include "vanelia/decode/media_probe_json.hpp"
#include "vanelia/decode/video_info_json.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {
namespace {

// A decoded frame as Python sees it: the pixels are a numpy array that owns
// the decoded buffer (no copy).
struct PyFrame {
  int64_t index = 0;
  double timestamp_s = 0.0;
  py::array_t<uint8_t> rgb;
};

py::array_t<uint8_t> ToArray(Image&& image) {
  auto* owner = new Image(std::move(image));
  py::capsule release(
      owner, [](void* pointer) { delete static_cast<Image*>(pointer); });
  const py::ssize_t channels = owner->channels;
  return py::array_t<uint8_t>(
      {static_cast<py::ssize_t>(owner->height),
       static_cast<py::ssize_t>(owner->width),
       channels},
      {static_cast<py::ssize_t>(owner->stride), channels, py::ssize_t{1}},
      owner->data.data(),
      release);
}

PyFrame ToPython(Frame&& frame) {
  PyFrame out;
  out.index = frame.index;
  out.timestamp_s = frame.timestamp_s;
  out.rgb = ToArray(std::move(frame.rgb));
  return out;
}

py::dict RationalDict(const Rational& value) {
  py::dict dict;
  dict["num"] = value.num;
  dict["den"] = value.den;
  return dict;
}

py::dict InfoDict(const VideoInfo& info) {
  return JsonToPython(VideoInfoToJson(info));
}

std::unique_ptr<VideoReader> OpenReader(
    const std::string& path,
    int64_t start,
    int64_t end,
    int64_t every,
    int max_width,
    const std::optional<std::pair<int, int>>& target_size,
    int threads,
    const std::pair<int64_t, int64_t>& sequence_fps) {
  ReadOptions options;
  options.start = start;
  options.end = end;
  options.every = every;
  options.max_width = max_width;
  if (target_size.has_value()) {
    options.target_width = target_size->first;
    options.target_height = target_size->second;
  }
  options.threads = threads;
  options.sequence_fps = {sequence_fps.first, sequence_fps.second};
  py::gil_scoped_release release;
  return VideoReader::Open(path, options);
}

// The output-to-source frame mapping of `reader` as a list of dicts.
py::list MappingList(const VideoReader& reader) {
  py::list list;
  for (const FrameMapping& map : reader.Mapping()) {
    py::dict dict;
    dict["index"] = map.index;
    dict["source_index"] = map.source_index;
    dict["source_pts"] = map.source_pts;
    dict["source_time_s"] = map.source_time_s;
    dict["timestamp_s"] = map.timestamp_s;
    list.append(dict);
  }
  return list;
}

// The summary of the CFR mapping of `reader` as a dict.
py::dict CfrDict(const VideoReader& reader) {
  const CfrReport& cfr = reader.Cfr();
  py::dict dict;
  dict["source_frames"] = cfr.source_frames;
  dict["output_frames"] = cfr.output_frames;
  dict["duplicated"] = cfr.duplicated;
  dict["dropped"] = cfr.dropped;
  dict["time_base"] = RationalDict(cfr.time_base);
  return dict;
}

// The Frame class: one decoded frame, its pixels a numpy array.
void BindFrame(py::module_& m) {
  py::class_<PyFrame>(m, "Frame", "One decoded frame in presentation order.")
      .def_readonly("index", &PyFrame::index, "0-based decoded frame index")
      .def_readonly("timestamp_s", &PyFrame::timestamp_s, "seconds")
      .def_readonly("rgb", &PyFrame::rgb, "upright RGB, [H, W, 3] uint8")
      .def("__repr__", [](const PyFrame& frame) {
        return "<vanelia.Frame index=" + std::to_string(frame.index) +
               " t=" + std::to_string(frame.timestamp_s) + "s>";
      });
}

// The VideoReader class: iteration, random access and the CFR mapping.
void BindVideoReader(py::module_& m) {
  py::class_<VideoReader>(
      m,
      "VideoReader",
      "Reads a video file or an image sequence (a folder, or a pattern such "
      "as 'frames/%04d.png') as upright RGB frames in presentation order. "
      "Iterating yields Frame objects; decoding runs with the GIL released.")
      .def(py::init(&OpenReader),
           py::arg("path"),
           py::kw_only(),
           py::arg("start") = 0,
           py::arg("end") = -1,
           py::arg("every") = 1,
           py::arg("max_width") = 0,
           py::arg("target_size") = py::none(),
           py::arg("threads") = 0,
           py::arg("sequence_fps") = std::make_pair(int64_t{24}, int64_t{1}))
      .def_property_readonly(
          "info",
          [](const VideoReader& reader) { return InfoDict(reader.Info()); },
          "the clip's description (dict)")
      .def_property_readonly(
          "output_size",
          [](const VideoReader& reader) {
            return std::make_pair(reader.OutputWidth(), reader.OutputHeight());
          },
          "(width, height) of the frames yielded")
      .def("__len__",
           [](const VideoReader& reader) {
             return reader.SelectedIndices().size();
           })
      .def("__iter__",
           [](VideoReader& reader) -> VideoReader& { return reader; })
      .def("__next__",
           [](VideoReader& reader) {
             Frame frame;
             bool more = false;
             {
               py::gil_scoped_release release;
               more = reader.Next(&frame);
             }
             if (!more) throw py::stop_iteration();
             return ToPython(std::move(frame));
           })
      .def(
          "read",
          [](VideoReader& reader, int64_t index) {
            Frame frame;
            {
              py::gil_scoped_release release;
              frame = reader.Read(index);
            }
            return ToPython(std::move(frame));
          },
          py::arg("index"),
          "Decodes output frame `index` (accurate seek).")
      .def("seek",
           &VideoReader::Seek,
           py::arg("index"),
           "The next frame iterated is `index`.")
      .def("selected_indices",
           &VideoReader::SelectedIndices,
           "The indices iteration yields, given start/end/every.")
      .def(
          "mapping",
          [](const VideoReader& reader) { return MappingList(reader); },
          "For each output frame, the source frame it shows (CFR mapping).")
      .def_property_readonly(
          "cfr",
          [](const VideoReader& reader) { return CfrDict(reader); },
          "summary of the CFR mapping (dict)");
}

}  // namespace

void BindDecode(py::module_& m) {
  BindFrame(m);
  BindVideoReader(m);

  m.def(
      "probe_video",
      [](const std::string& path) {
        VideoInfo info;
        {
          py::gil_scoped_release release;
          info = ProbeVideo(path);
        }
        return InfoDict(info);
      },
      py::arg("path"),
      "Describes a video file or an image sequence (dict).");
  m.def(
      "probe_media",
      [](const std::string& path) {
        MediaProbe probe;
        {
          py::gil_scoped_release release;
          probe = ProbeMedia(path);
        }
        return JsonToPython(MediaProbeToJson(probe, /*with_pts=*/true));
      },
      py::arg("path"),
      "Describes a video file as core/media.py needs it, demuxed by "
      "libavformat (dict: upright size, rotation, exact fps, frame_count, "
      "pts_s, is_vfr, colour tags as ffprobe names them, audio).");
  m.def(
      "source_content_sha256",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return SourceContentSha256(path);
      },
      py::arg("path"),
      "Hex SHA-256 of footage's content, as the track cache keys it: of a "
      "video's or one image's bytes; of a folder or pattern's per-file "
      "digests in frame order (masks: the key's mask_sha256).");
  m.def("have_ffmpeg",
        &HaveFfmpeg,
        "Whether this build decodes video files (else PPM/PGM sequences).");
}

}  // namespace vanelia::python
