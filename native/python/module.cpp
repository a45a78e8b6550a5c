// The _vanelia Python module: the native library for the add-on, tests and
// scripts. Errors are _vanelia.Error (a RuntimeError) and its subclasses.
#include "bindings.hpp"

PYBIND11_MODULE(_vanelia, m) {
  m.doc() =
      "Vanelia native library: geometry, decoding, track files, tracking, "
      "floor, pipeline";
  m.attr("__version__") = VANELIA_VERSION;
  vanelia::python::BindCore(m);
#ifdef VANELIA_BIND_GEOMETRY
  vanelia::python::BindGeometry(m);
#endif
#ifdef VANELIA_BIND_DECODE
  vanelia::python::BindDecode(m);
#endif
#ifdef VANELIA_BIND_ENCODE
  vanelia::python::BindEncode(m);
#endif
#ifdef VANELIA_BIND_MODEL
  vanelia::python::BindModel(m);
#endif
#ifdef VANELIA_BIND_TRACKFILE
  vanelia::python::BindTrackfile(m);
#endif
#ifdef VANELIA_BIND_TRACK
  vanelia::python::BindTrack(m);
#endif
#ifdef VANELIA_BIND_FLOOR
  vanelia::python::BindFloor(m);
#endif
#ifdef VANELIA_BIND_PIPELINE
  vanelia::python::BindPipeline(m);
#endif
}
