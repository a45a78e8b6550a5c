// Bindings of the encode module: OverlayEncodeOptions, encode_overlay (the
// whole stage over a folder of renders, GIL released, progress + cancel) and
// OverlayEncoder (one render at a time, for the preview's piped encode).
#include "vanelia/encode/overlay_encode.hpp"
#include "vanelia/encode/plate_proxy.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {
namespace {

void BindOverlayEncodeOptions(py::module_& m) {
  py::class_<OverlayEncodeOptions>(
      m,
      "OverlayEncodeOptions",
      "Options of the overlay + encode stage (see encode_overlay).")
      .def(py::init<>())
      .def_readwrite("plate_path", &OverlayEncodeOptions::plate_path)
      .def_readwrite("output_path", &OverlayEncodeOptions::output_path)
      .def_readwrite("codec",
                     &OverlayEncodeOptions::codec,
                     "h264, h264_preview, hevc, prores or dnxhr")
      .def_readwrite("first", &OverlayEncodeOptions::first)
      .def_readwrite("every", &OverlayEncodeOptions::every)
      .def_readwrite("count", &OverlayEncodeOptions::count)
      .def_property(
          "fps",
          [](const OverlayEncodeOptions& o) {
            return py::make_tuple(o.fps.num, o.fps.den);
          },
          [](OverlayEncodeOptions& o, const std::pair<int64_t, int64_t>& v) {
            o.fps = {v.first, v.second};
          },
          "the plate's rate as (num, den)")
      .def_readwrite("width", &OverlayEncodeOptions::width)
      .def_readwrite("height", &OverlayEncodeOptions::height)
      .def_readwrite("plate_range", &OverlayEncodeOptions::plate_range)
      .def_readwrite("output_range", &OverlayEncodeOptions::output_range)
      .def_readwrite("matrix", &OverlayEncodeOptions::matrix)
      .def_readwrite("color_primaries", &OverlayEncodeOptions::color_primaries)
      .def_readwrite("color_transfer", &OverlayEncodeOptions::color_transfer)
      .def_readwrite("color_space", &OverlayEncodeOptions::color_space)
      .def_readwrite("tag_range", &OverlayEncodeOptions::tag_range)
      .def_readwrite("audio_path", &OverlayEncodeOptions::audio_path)
      .def_readwrite("threads", &OverlayEncodeOptions::threads)
      .def("check", &OverlayEncodeOptions::Check, "Raises InputError.");
}

void BindPlateProxy(py::module_& m) {
  m.def(
      "make_plate_proxy",
      [](const std::string& source,
         const std::string& output,
         const std::optional<std::pair<int64_t, int64_t>>& fps,
         int threads,
         const py::object& progress) {
        PlateProxyOptions options;
        options.source_path = source;
        options.output_path = output;
        if (fps) options.fps = {fps->first, fps->second};
        options.threads = threads;
        const ProgressCallback callback = WrapProgress(progress);
        PlateProxyResult result;
        {
          py::gil_scoped_release release;
          result = MakePlateProxy(options, callback);
        }
        py::dict out;
        out["width"] = result.width;
        out["height"] = result.height;
        out["rotation_deg"] = result.rotation_deg;
        out["fps"] = py::make_tuple(result.fps.num, result.fps.den);
        out["frames"] = result.frames;
        out["duplicated"] = result.duplicated;
        out["dropped"] = result.dropped;
        out["pixel_format"] = result.pixel_format;
        return out;
      },
      py::arg("source"),
      py::arg("output"),
      py::arg("fps") = py::none(),
      py::arg("threads") = 0,
      py::arg("progress") = py::none(),
      "Writes the upright, constant-rate, lossless (libx264 qp 0, Matroska) "
      "proxy of the clip `source` to `output` (via output + '.tmp.mkv'); "
      "fps (num, den) defaults to the source's probed rate. Returns a dict "
      "(width, height, rotation_deg, fps, frames, duplicated, dropped, "
      "pixel_format); progress(p) returning False cancels (Cancelled).");
}

}  // namespace

void BindEncode(py::module_& m) {
  BindOverlayEncodeOptions(m);
  m.def(
      "encode_overlay",
      [](const OverlayEncodeOptions& options,
         const std::string& frames_dir,
         const py::object& progress) {
        const ProgressCallback callback = WrapProgress(progress);
        py::gil_scoped_release release;
        EncodeOverlay(options, frames_dir, callback);
      },
      py::arg("options"),
      py::arg("frames_dir"),
      py::arg("progress") = py::none(),
      "Lays frames_dir/000000.png.. (options.count straight-alpha RGBA "
      "renders) over the plate and encodes options.output_path with the "
      "audio copied; progress(p) returning False cancels (Cancelled).");
  BindPlateProxy(m);
  m.def("have_overlay_encoder",
        &HaveOverlayEncoder,
        py::arg("codec"),
        "Whether this FFmpeg has the encoder of `codec`.");
  m.def("overlay_codecs", &OverlayCodecs, "The codecs encode_overlay takes.");

  py::class_<OverlayEncoder>(
      m,
      "OverlayEncoder",
      "The overlay encode fed one render at a time; an unfinished one "
      "removes its output when closed or collected.")
      .def(py::init([](const OverlayEncodeOptions& options) {
             py::gil_scoped_release release;
             return std::make_unique<OverlayEncoder>(options);
           }),
           py::arg("options"))
      .def(
          "add_png",
          [](OverlayEncoder& encoder, const std::string& path) {
            py::gil_scoped_release release;
            encoder.AddPng(path);
          },
          py::arg("path"),
          "Overlays and encodes the next output frame's render.")
      .def_property_readonly("frames_added", &OverlayEncoder::FramesAdded)
      .def(
          "finish",
          [](OverlayEncoder& encoder) {
            py::gil_scoped_release release;
            encoder.Finish();
          },
          "Flushes the encoder and closes the file.");
}

}  // namespace vanelia::python
