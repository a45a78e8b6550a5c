// Bindings of the core module: the error hierarchy and Progress.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/core/progress.hpp"

#include <memory>
#include <string>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {

ProgressCallback WrapProgress(const py::object& callback) {
  // Keep a reference that is safe to copy and destroy without the GIL.
  auto holder = std::shared_ptr<py::object>(new py::object(callback),
                                            [](py::object* object) {
                                              py::gil_scoped_acquire gil;
                                              delete object;
                                            });
  return [holder](const Progress& progress) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      return false;
    }
    if (holder->is_none()) return true;
    try {
      py::object result = (*holder)(progress);
      return result.is_none() || result.cast<bool>();
    } catch (py::error_already_set& error) {
      error.discard_as_unraisable(__func__);
      return false;
    }
  };
}

void BindCore(py::module_& m) {
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<InputError> input_error(m, "InputError", error.ptr());
  static py::exception<DecodeError> decode_error(
      m, "DecodeError", input_error.ptr());
  static py::exception<ModelError> model_error(m, "ModelError", error.ptr());
  static py::exception<Cancelled> cancelled(m, "Cancelled", error.ptr());
  static py::exception<InternalError> internal_error(
      m, "InternalError", error.ptr());
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const DecodeError& e) {
      PyErr_SetString(decode_error.ptr(), e.what());
    } catch (const InputError& e) {
      PyErr_SetString(input_error.ptr(), e.what());
    } catch (const ModelError& e) {
      PyErr_SetString(model_error.ptr(), e.what());
    } catch (const Cancelled& e) {
      PyErr_SetString(cancelled.ptr(), e.what());
    } catch (const InternalError& e) {
      PyErr_SetString(internal_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  py::class_<Progress>(m, "Progress", "A progress record of long work.")
      .def_readonly("stage", &Progress::stage)
      .def_readonly("done", &Progress::done)
      .def_readonly("total", &Progress::total)
      .def_readonly("elapsed_s", &Progress::elapsed_s)
      .def_readonly("rate_per_s", &Progress::rate_per_s)
      .def_readonly("eta_s", &Progress::eta_s)
      .def_readonly("message", &Progress::message)
      .def_property_readonly("fraction", &Progress::Fraction)
      .def("__repr__", [](const Progress& p) { return FormatProgress(p); });

  m.def("sha256_of_file",
        &Sha256OfFile,
        py::arg("path"),
        "Hex SHA-256 of a file's bytes.");
}

}  // namespace vanelia::python
