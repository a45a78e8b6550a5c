// Bindings of the scene module: aligning a track document to Blender's world
// (floor z = 0, Z up, metres), what `vanelia align` does, for the add-on's
// track operator. Documents travel as JSON text (the track file format), so
// the numbers are exactly those of the file.
#include "vanelia/scene/alignment.hpp"
#include "vanelia/track/track_file.hpp"

#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {

void BindScene(py::module_& m) {
  m.def(
      "align_track_text",
      [](const std::string& text, double camera_height_m) {
        std::string out;
        bool aligned = false;
        std::vector<std::string> warnings;
        {
          py::gil_scoped_release release;
          TrackFile file = ReadTrackFileString(text, "<track to align>");
          AlignmentOptions options;
          options.camera_height_m = camera_height_m;
          options.Check();
          const Alignment alignment = AlignTrackFile(options, &file);
          aligned = alignment.aligned;
          warnings = alignment.warnings;
          out = WriteTrackFileString(file);
        }
        return py::make_tuple(out, aligned, warnings);
      },
      py::arg("text"),
      py::arg("camera_height_m") = 1.5,
      "Aligns the track file text to the floor (vanelia align with the "
      "camera-height scale). Returns (text, aligned, warnings); when no "
      "floor is found aligned is False and the world is left as it was.");
}

}  // namespace vanelia::python
