// JSON <-> Python values for the bindings that hand documents (track files,
// video info) to Python as dicts and lists.
#include "vanelia/core/error.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {

pybind11::object JsonToPython(const nlohmann::ordered_json& j) {
  using Json = nlohmann::ordered_json;
  switch (j.type()) {
    case Json::value_t::null:
      return py::none();
    case Json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case Json::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case Json::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case Json::value_t::number_float:
      return py::float_(j.get<double>());
    case Json::value_t::string:
      return py::str(j.get<std::string>());
    case Json::value_t::array: {
      py::list list;
      for (const Json& item : j) list.append(JsonToPython(item));
      return std::move(list);
    }
    case Json::value_t::object: {
      py::dict dict;
      for (const auto& [key, item] : j.items())
        dict[py::str(key)] = JsonToPython(item);
      return std::move(dict);
    }
    default:
      break;
  }
  throw InputError("track: a JSON value of unsupported type");
}

nlohmann::ordered_json JsonFromPython(const pybind11::handle& obj) {
  using Json = nlohmann::ordered_json;
  if (obj.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(obj)) return obj.cast<bool>();
  if (py::isinstance<py::int_>(obj)) return obj.cast<int64_t>();
  if (py::isinstance<py::float_>(obj)) return obj.cast<double>();
  if (py::isinstance<py::str>(obj)) return obj.cast<std::string>();
  if (py::isinstance<py::dict>(obj)) {
    Json j = Json::object();
    for (const auto& [key, value] : obj.cast<py::dict>()) {
      j[py::str(key).cast<std::string>()] = JsonFromPython(value);
    }
    return j;
  }
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    Json j = Json::array();
    for (const py::handle item : obj) j.push_back(JsonFromPython(item));
    return j;
  }
  if (py::hasattr(obj, "tolist")) return JsonFromPython(obj.attr("tolist")());
  throw InputError(
      "track: cannot store a Python " +
      py::str(py::type::of(obj).attr("__name__")).cast<std::string>() +
      " in a track file");
}

}  // namespace vanelia::python
