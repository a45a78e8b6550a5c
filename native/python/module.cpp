// The _vanelia Python module: the native library for the add-on, tests and
// scripts. Errors are _vanelia.Error (a RuntimeError) and its subclasses.
#include "bindings.hpp"

PYBIND11_MODULE(_vanelia, m) {
  m.doc() = "Vanelia native library: geometry, video, tracking, ground plane";
  m.attr("__version__") = VANELIA_VERSION;
  vanelia::python::BindCore(m);
#ifdef VANELIA_BIND_GEOMETRY
  vanelia::python::BindGeometry(m);
#endif
#ifdef VANELIA_BIND_VIDEO
  vanelia::python::BindVideo(m);
#endif
#ifdef VANELIA_BIND_MODEL
  vanelia::python::BindModel(m);
#endif
#ifdef VANELIA_BIND_TRACK
  vanelia::python::BindTrack(m);
#endif
#ifdef VANELIA_BIND_SCENE
  vanelia::python::BindScene(m);
#endif
#ifdef VANELIA_BIND_PIPELINE
  vanelia::python::BindPipeline(m);
#endif
}
