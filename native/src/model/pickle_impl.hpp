// Private to the restricted unpickler (pickle.cpp, pickle_whitelist.cpp,
// py_value.cpp).
#pragma once

#include "vanelia/model/pickle.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vanelia::internal {

PyValue MakePyNode(PyNode::Kind kind);
const char* PyKindName(PyNode::Kind kind);

// Storage class ("torch.HalfStorage", also torch.cuda.*, UntypedStorage)
// -> element dtype; false when `global` is not a storage class.
bool StorageDtypeFromClass(const std::string& global, StorageDtype* dtype);
// torch dtype global ("torch.float16") -> dtype; false otherwise.
bool StorageDtypeFromTorchDtype(const std::string& global, StorageDtype* dtype);
// True for the globals the unpickler keeps as kGlobal (data); all others
// become placeholders.
bool IsWhitelistedGlobal(const std::string& dotted_name);

void AppendUtf8(uint32_t cp, std::string* out);
bool DecodeUtf8(const std::string& s, std::vector<uint32_t>* cps);

// Reports malformed arguments; must throw.
using FailFn = std::function<void(const std::string&)>;

// What calling the whitelisted global `g` with `args` builds (an OrderedDict,
// a Namespace, a TensorRef, a numpy scalar, ...). Globals that are data but
// not constructors (storage classes, dtypes) give a placeholder.
PyValue CallWhitelistedGlobal(const std::string& g,
                              const std::vector<PyValue>& args,
                              const FailFn& fail);

}  // namespace vanelia::internal
