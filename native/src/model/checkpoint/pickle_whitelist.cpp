// The whitelist of the restricted unpickler: which globals are data, and
// what a call of each builds. Nothing here imports, looks up or runs code;
// each entry interprets its arguments as plain values.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "pickle_impl.hpp"

namespace vanelia::internal {

using Kind = PyNode::Kind;

namespace {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1;
  const int exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant == 0 ? INFINITY : NAN;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

// numpy.core.multiarray.scalar(dtype(descr), raw bytes) -> bool/int/float;
// None when unsupported (the caller reports it).
PyValue NumpyScalarOrdered(const std::string& descr, std::string bytes);

PyValue NumpyScalar(const std::string& descr, std::string bytes) {
  std::string d = descr;
  if (!d.empty() && d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '=') {
    d = "<" + d;  // no byte order given: native (little endian)
  }
  return NumpyScalarOrdered(d, std::move(bytes));
}

PyValue NumpyScalarOrdered(const std::string& descr, std::string bytes) {
  if (descr.size() < 2) return PyValue::None();
  const char order = descr[0];
  const char type = descr[1];
  const int size = std::atoi(descr.c_str() + 2);
  if (static_cast<size_t>(size) != bytes.size() || size < 1 || size > 8) {
    return PyValue::None();
  }
  if (order == '>') std::reverse(bytes.begin(), bytes.end());
  uint64_t u = 0;
  std::memcpy(&u, bytes.data(), bytes.size());  // little-endian host
  switch (type) {
    case 'b':
      return PyValue::Bool(u != 0);
    case 'u':
      if (size == 8 && (u >> 63) != 0) return PyValue::None();
      return PyValue::Int(static_cast<int64_t>(u));
    case 'i': {
      if (size < 8 && ((u >> (8 * size - 1)) & 1))
        u |= ~uint64_t{0} << (8 * size);
      int64_t v;
      std::memcpy(&v, &u, 8);
      return PyValue::Int(v);
    }
    case 'f':
      if (size == 8) {
        double d;
        std::memcpy(&d, &u, 8);
        return PyValue::Float(d);
      }
      if (size == 4) {
        float f;
        const auto u32 = static_cast<uint32_t>(u);
        std::memcpy(&f, &u32, 4);
        return PyValue::Float(f);
      }
      if (size == 2)
        return PyValue::Float(HalfToFloat(static_cast<uint16_t>(u)));
      return PyValue::None();
    default:
      return PyValue::None();
  }
}

}  // namespace

// Storage class name (last component, e.g. "HalfStorage") -> dtype.
bool StorageDtypeFromClass(const std::string& global, StorageDtype* dtype) {
  const size_t dot = global.rfind('.');
  const std::string module =
      dot == std::string::npos ? "" : global.substr(0, dot);
  const std::string name =
      global.substr(dot == std::string::npos ? 0 : dot + 1);
  if (module != "torch" && module != "torch.cuda" &&
      module != "torch.storage") {
    return false;
  }
  static const std::pair<const char*, StorageDtype> kTable[] = {
      {"FloatStorage", StorageDtype::kFloat32},
      {"DoubleStorage", StorageDtype::kFloat64},
      {"HalfStorage", StorageDtype::kFloat16},
      {"BFloat16Storage", StorageDtype::kBFloat16},
      {"LongStorage", StorageDtype::kInt64},
      {"IntStorage", StorageDtype::kInt32},
      {"ShortStorage", StorageDtype::kInt16},
      {"CharStorage", StorageDtype::kInt8},
      {"ByteStorage", StorageDtype::kUInt8},
      {"BoolStorage", StorageDtype::kBool},
      {"UntypedStorage", StorageDtype::kUInt8},
      {"_UntypedStorage", StorageDtype::kUInt8},
  };
  for (const auto& [n, d] : kTable) {
    if (name == n) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

// torch dtype global ("torch.float16") -> StorageDtype.
bool StorageDtypeFromTorchDtype(const std::string& global,
                                StorageDtype* dtype) {
  static const std::pair<const char*, StorageDtype> kTable[] = {
      {"torch.float32", StorageDtype::kFloat32},
      {"torch.float", StorageDtype::kFloat32},
      {"torch.float64", StorageDtype::kFloat64},
      {"torch.double", StorageDtype::kFloat64},
      {"torch.float16", StorageDtype::kFloat16},
      {"torch.half", StorageDtype::kFloat16},
      {"torch.bfloat16", StorageDtype::kBFloat16},
      {"torch.int64", StorageDtype::kInt64},
      {"torch.long", StorageDtype::kInt64},
      {"torch.int32", StorageDtype::kInt32},
      {"torch.int", StorageDtype::kInt32},
      {"torch.int16", StorageDtype::kInt16},
      {"torch.short", StorageDtype::kInt16},
      {"torch.int8", StorageDtype::kInt8},
      {"torch.uint8", StorageDtype::kUInt8},
      {"torch.bool", StorageDtype::kBool},
  };
  for (const auto& [n, d] : kTable) {
    if (global == n) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

// Globals that are data and may appear uncalled (kGlobal). Everything here is
// only ever *interpreted* by Call(); nothing is looked up or run.
bool IsWhitelistedGlobal(const std::string& g) {
  static const char* const kNames[] = {
      "collections.OrderedDict",
      "argparse.Namespace",
      "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_tensor_v3",
      "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state",
      "numpy.core.multiarray.scalar",
      "numpy._core.multiarray.scalar",
      "numpy.dtype",
      "_codecs.encode",
      "builtins.set",
      "builtins.frozenset",
      "builtins.slice",
      "__builtin__.set",
      "__builtin__.frozenset",
      "__builtin__.slice",
  };
  for (const char* n : kNames) {
    if (g == n) return true;
  }
  StorageDtype d;
  return StorageDtypeFromClass(g, &d) || StorageDtypeFromTorchDtype(g, &d);
}

// Appends the UTF-8 encoding of code point `cp`.
void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes UTF-8 into code points; false on malformed input.
bool DecodeUtf8(const std::string& s, std::vector<uint32_t>* cps) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp;
    if (c < 0x80) {
      n = 0;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    cps->push_back(cp);
    i += n + 1;
  }
  return true;
}

namespace {

// Reports unexpected arguments to `g` through `fail` (which must throw).
[[noreturn]] void FailBadArgs(const std::string& g, const FailFn& fail) {
  fail("unexpected arguments to " + g);
  throw ModelError("unexpected arguments to " + g);  // fail must throw
}

// collections.OrderedDict() or OrderedDict([(k, v), ...]).
PyValue CallOrderedDict(const std::string& g,
                        const std::vector<PyValue>& args,
                        const FailFn& fail) {
  PyValue d = PyValue::Dict();
  d.MutableNode().ordered_dict = true;
  if (!args.empty()) {
    // OrderedDict([(k, v), ...])
    if (!args[0].Is(Kind::kList) && !args[0].Is(Kind::kTuple)) {
      FailBadArgs(g, fail);
    }
    std::vector<PyValue> kv;
    for (const auto& pair : args[0].Node().items) {
      if (!pair.Is(Kind::kTuple) || pair.Node().items.size() != 2) {
        FailBadArgs(g, fail);
      }
      kv.push_back(pair.Node().items[0]);
      kv.push_back(pair.Node().items[1]);
    }
    for (size_t i = 0; i < kv.size(); i += 2) {
      d.MutableNode().entries.emplace_back(kv[i], kv[i + 1]);
    }
  }
  return d;
}

// torch._utils._rebuild_tensor{,_v2,_v3}(storage, offset, size, stride, ...)
// -> a kTensor naming its storage.
PyValue CallRebuildTensor(const std::string& g,
                          const std::vector<PyValue>& args,
                          const FailFn& fail) {
  if (args.size() < 4 || !args[0].Is(Kind::kStorage) ||
      !args[1].Is(Kind::kInt) || !args[2].Is(Kind::kTuple) ||
      !args[3].Is(Kind::kTuple)) {
    FailBadArgs(g, fail);
  }
  TensorRef t;
  t.storage = args[0].Node().storage;
  t.storage_offset = args[1].Node().int_value;
  for (const auto& s : args[2].Node().items) {
    if (!s.Is(Kind::kInt)) FailBadArgs(g, fail);
    t.sizes.push_back(s.Node().int_value);
  }
  for (const auto& s : args[3].Node().items) {
    if (!s.Is(Kind::kInt)) FailBadArgs(g, fail);
    t.strides.push_back(s.Node().int_value);
  }
  if (t.sizes.size() != t.strides.size()) FailBadArgs(g, fail);
  if (args.size() > 4 && args[4].Is(Kind::kBool)) {
    t.requires_grad = args[4].Node().bool_value;
  }
  if (g == "torch._utils._rebuild_tensor_v3") {
    // (storage, offset, size, stride, requires_grad, hooks, dtype, meta)
    if (args.size() < 7 || !args[6].Is(Kind::kGlobal) ||
        !StorageDtypeFromTorchDtype(args[6].Node().str_value,
                                    &t.storage.dtype)) {
      FailBadArgs(g, fail);
    }
    const int64_t size = StorageDtypeSize(t.storage.dtype);
    if (t.storage.numel % size != 0) FailBadArgs(g, fail);
    t.storage.numel /= size;  // untyped storage numel is in bytes
  }
  PyValue v = MakePyNode(Kind::kTensor);
  v.MutableNode().tensor = std::move(t);
  return v;
}

// numpy.core.multiarray.scalar(dtype, raw bytes) -> bool/int/float, or a
// placeholder for an exotic dtype.
PyValue CallNumpyScalar(const std::string& g,
                        const std::vector<PyValue>& args,
                        const FailFn& fail) {
  if (args.size() != 2 || !args[0].Is(Kind::kNumpyDtype) ||
      !(args[1].Is(Kind::kBytes) || args[1].Is(Kind::kString))) {
    FailBadArgs(g, fail);
  }
  PyValue v = NumpyScalar(args[0].Node().str_value, args[1].Node().str_value);
  // An exotic dtype stays inert: an error only if the model needs it.
  if (v.IsNone()) {
    return PyValue::Placeholder(g + "(dtype '" + args[0].Node().str_value +
                                "')");
  }
  return v;
}

// _codecs.encode(str, encoding) -> bytes (utf-8 or latin-1; a placeholder
// for any other encoding).
PyValue CallCodecsEncode(const std::string& g,
                         const std::vector<PyValue>& args,
                         const FailFn& fail) {
  if (args.empty() || !args[0].Is(Kind::kString)) FailBadArgs(g, fail);
  const std::string enc = args.size() > 1 && args[1].Is(Kind::kString)
                              ? args[1].Node().str_value
                              : "utf-8";
  if (enc == "utf-8" || enc == "utf8") {
    return PyValue::Bytes(args[0].Node().str_value);
  }
  if (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
    return PyValue::Placeholder("_codecs.encode(" + enc + ")");
  }
  std::vector<uint32_t> cps;
  if (!DecodeUtf8(args[0].Node().str_value, &cps)) FailBadArgs(g, fail);
  std::string bytes;
  for (uint32_t cp : cps) {
    if (cp > 0xFF) FailBadArgs(g, fail);
    bytes.push_back(static_cast<char>(cp));
  }
  return PyValue::Bytes(std::move(bytes));
}

// builtins.set / frozenset([items]) -> a kSet.
PyValue CallSet(const std::string& g,
                const std::vector<PyValue>& args,
                const FailFn& fail) {
  PyValue s = MakePyNode(Kind::kSet);
  if (!args.empty()) {
    if (!args[0].Is(Kind::kList) && !args[0].Is(Kind::kTuple) &&
        !args[0].Is(Kind::kSet)) {
      FailBadArgs(g, fail);
    }
    s.MutableNode().items = args[0].Node().items;
  }
  return s;
}

// builtins.slice(stop) or slice(start, stop[, step]) -> a kSlice of 3 items.
PyValue CallSlice(const std::string& g,
                  const std::vector<PyValue>& args,
                  const FailFn& fail) {
  if (args.empty() || args.size() > 3) FailBadArgs(g, fail);
  PyValue s = MakePyNode(Kind::kSlice);
  std::vector<PyValue> items(3);
  if (args.size() == 1) {
    items[1] = args[0];
  } else {
    for (size_t i = 0; i < args.size(); ++i) items[i] = args[i];
  }
  s.MutableNode().items = std::move(items);
  return s;
}

}  // namespace

PyValue CallWhitelistedGlobal(const std::string& g,
                              const std::vector<PyValue>& args,
                              const FailFn& fail) {
  if (g == "collections.OrderedDict") return CallOrderedDict(g, args, fail);
  if (g == "argparse.Namespace") {
    if (!args.empty()) FailBadArgs(g, fail);
    return MakePyNode(Kind::kNamespace);
  }
  if (g == "torch._utils._rebuild_tensor" ||
      g == "torch._utils._rebuild_tensor_v2" ||
      g == "torch._utils._rebuild_tensor_v3") {
    return CallRebuildTensor(g, args, fail);
  }
  if (g == "torch._utils._rebuild_parameter" ||
      g == "torch._utils._rebuild_parameter_with_state") {
    if (args.empty() || !args[0].Is(Kind::kTensor)) FailBadArgs(g, fail);
    PyValue v = MakePyNode(Kind::kTensor);
    v.MutableNode().tensor = args[0].Node().tensor;
    if (args.size() > 1 && args[1].Is(Kind::kBool)) {
      v.MutableNode().tensor.requires_grad = args[1].Node().bool_value;
    }
    return v;
  }
  if (g == "numpy.dtype") {
    if (args.empty() || !args[0].Is(Kind::kString)) FailBadArgs(g, fail);
    PyValue v = MakePyNode(Kind::kNumpyDtype);
    v.MutableNode().str_value = args[0].Node().str_value;
    return v;
  }
  if (g == "numpy.core.multiarray.scalar" ||
      g == "numpy._core.multiarray.scalar") {
    return CallNumpyScalar(g, args, fail);
  }
  if (g == "_codecs.encode") return CallCodecsEncode(g, args, fail);
  if (g == "builtins.set" || g == "builtins.frozenset" ||
      g == "__builtin__.set" || g == "__builtin__.frozenset") {
    return CallSet(g, args, fail);
  }
  if (g == "builtins.slice" || g == "__builtin__.slice") {
    return CallSlice(g, args, fail);
  }
  // Storage classes and dtypes are data but not callable here (the legacy
  // torch format called them); a call makes a placeholder.
  return PyValue::Placeholder(g);
}

}  // namespace vanelia::internal
