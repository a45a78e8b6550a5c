// Declarations of the per-module binding functions of the _vanelia module
// (one bind_<module>.cpp each), and the shared helpers they use.
#pragma once

#include "vanelia/core/progress.hpp"

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

namespace vanelia::python {

void BindCore(pybind11::module_& m);
void BindGeometry(pybind11::module_& m);
void BindDecode(pybind11::module_& m);
void BindEncode(pybind11::module_& m);
void BindTrackfile(pybind11::module_& m);
void BindTrack(pybind11::module_& m);
void BindFloor(pybind11::module_& m);
void BindModel(pybind11::module_& m);
void BindPipeline(pybind11::module_& m);

// Wraps an optional Python callable `callback(progress) -> bool|None` into a
// ProgressCallback for a call that runs with the GIL released. The wrapper
// re-acquires the GIL, polls PyErr_CheckSignals (Ctrl-C cancels), and treats
// a False return as a cancel. A Python exception in the callback cancels too
// and is re-raised by the binding.
ProgressCallback WrapProgress(const pybind11::object& callback);

// A JSON document as Python values (dict, list, str, int, float, bool,
// None), and back (tuples and objects with `tolist()`, e.g. numpy arrays,
// become lists). Unsupported values raise InputError.
pybind11::object JsonToPython(const nlohmann::ordered_json& json);
nlohmann::ordered_json JsonFromPython(const pybind11::handle& object);

}  // namespace vanelia::python
