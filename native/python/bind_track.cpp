// Bindings of the track module: whether CUDA is there for the networks.
// `track_video` and TRACKERS are the pipeline's (bind_pipeline.cpp).
#include "vanelia/track/tracker_factory.hpp"

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {

void BindTrack(py::module_& m) {
  // The trackers `track_video` can run; bind_pipeline.cpp names them where
  // the pipeline (decode + track + floor) is built.
  m.attr("TRACKERS") = py::tuple();
  m.def(
      "cuda_available",
      []() {
        py::gil_scoped_release release;
        return CudaAvailable();
      },
      "True when a CUDA GPU can run the networks (device 'cuda'; 'auto' "
      "picks it). False in a build without them.");
}

}  // namespace vanelia::python
