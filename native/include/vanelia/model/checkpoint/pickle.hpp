// A restricted Python unpickler that executes nothing, and the inert value
// tree it produces (PyValue).
//
// PyTorch checkpoints (torch.save) are pickles. Python's own unpickler calls
// whatever global the file names, so a checkpoint can run arbitrary code. This
// one only builds data: None/bool/int/float/str/bytes/tuple/list/dict/set,
// plus a short whitelist of data-only constructors (collections.OrderedDict,
// argparse.Namespace, torch tensor rebuilds and storages, torch dtypes, numpy
// scalar/dtype, _codecs.encode, builtins set/frozenset/slice). Every other
// global (e.g. os.system) becomes an inert kPlaceholder value that remembers
// the global's dotted name; calling it (REDUCE, NEWOBJ, INST, OBJ) or BUILDing
// it yields another placeholder of the same name and never runs anything.
// Reading a placeholder where data is expected (PyValue::AsString, ...) throws
// ModelError naming the global.
//
// This header does not include LibTorch: tensors are TensorRef descriptions
// (storage key, dtype, offsets); checkpoint.hpp turns them into tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vanelia {

// Element type of a torch storage / tensor, as stored in the file.
enum class StorageDtype {
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt64,
  kInt32,
  kInt16,
  kInt8,
  kUInt8,
  kBool,
};

// "float32", "bfloat16", ...
const char* StorageDtypeName(StorageDtype dtype);

// Bytes per element (1, 2, 4 or 8).
int StorageDtypeSize(StorageDtype dtype);

// A persistent-id storage reference: ('storage', torch.XStorage, key,
// location, numel). The bytes live in the archive entry `data/<key>`.
struct StorageRef {
  std::string key;
  StorageDtype dtype = StorageDtype::kFloat32;
  std::string location;  // "cpu", "cuda:0", ... (ignored when loading)
  int64_t numel = 0;     // elements of dtype
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...):
// a strided view of a storage, in elements.
struct TensorRef {
  StorageRef storage;
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool requires_grad = false;
};

class PyValue;

// One node of the value tree. Containers are shared (pickle's memo may
// reference one object twice and mutate it later), so PyValue is a handle.
struct PyNode {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kBytes,
    kTuple,
    kList,
    kSet,          // set and frozenset
    kDict,         // dict and collections.OrderedDict (insertion order kept)
    kNamespace,    // argparse.Namespace: attributes in `attrs`
    kStorage,      // persistent-id storage, see StorageRef
    kTensor,       // see TensorRef
    kGlobal,       // a whitelisted global not called (e.g. torch.float16)
    kPlaceholder,  // a non-whitelisted global or anything built from it
    kNumpyDtype,   // numpy.dtype('<f8') (str_value = "<f8")
    kSlice,        // builtins.slice(start, stop, step): items = 3 values
  };

  Kind kind = Kind::kNone;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0.0;
  // str/bytes payload; the dotted global name for kGlobal and kPlaceholder.
  std::string str_value;
  std::vector<PyValue> items;                          // tuple/list/set
  std::vector<std::pair<PyValue, PyValue>> entries;    // dict (in order)
  std::vector<std::pair<std::string, PyValue>> attrs;  // object __dict__
  bool ordered_dict = false;  // collections.OrderedDict rather than dict
  StorageRef storage;         // kStorage
  TensorRef tensor;           // kTensor

  PyNode() = default;
  PyNode(const PyNode&) = delete;
  PyNode& operator=(const PyNode&) = delete;
  // Frees children iteratively, so a deeply nested hostile pickle cannot
  // overflow the C++ stack on destruction. (Reference cycles built through
  // the memo are leaked, never followed.)
  ~PyNode();
};

// Handle to a PyNode (never null: a default PyValue is None).
class PyValue {
 public:
  using Kind = PyNode::Kind;

  PyValue();
  explicit PyValue(std::shared_ptr<PyNode> node);

  static PyValue None();
  static PyValue Bool(bool v);
  static PyValue Int(int64_t v);
  static PyValue Float(double v);
  static PyValue String(std::string v);
  static PyValue Bytes(std::string v);
  static PyValue Tuple(std::vector<PyValue> items);
  static PyValue List(std::vector<PyValue> items);
  static PyValue Dict();
  static PyValue Placeholder(std::string global_name);

  Kind GetKind() const { return node_->kind; }

  const PyNode& Node() const { return *node_; }

  PyNode& MutableNode() const { return *node_; }

  bool Is(Kind k) const { return node_->kind == k; }

  bool IsNone() const { return Is(Kind::kNone); }

  bool IsPlaceholder() const { return Is(Kind::kPlaceholder); }

  // Typed access for values the model needs. `what` names the field for the
  // message, e.g. "checkpoint 'x.pth': args.encoder". Each throws ModelError
  // ("...: expected str, got placeholder built from global 'os.system'") when
  // the kind does not match.
  bool AsBool(const std::string& what) const;
  int64_t AsInt(const std::string& what) const;
  double AsFloat(const std::string& what) const;  // int accepted
  const std::string& AsString(const std::string& what) const;
  const std::vector<PyValue>& AsSequence(const std::string& what) const;
  const TensorRef& AsTensor(const std::string& what) const;

  // Dict lookup by string key (dict/OrderedDict) or attribute lookup
  // (Namespace and other objects with attrs); nullptr when absent or when
  // this value is neither.
  const PyValue* Find(const std::string& key) const;
  // As Find, but a missing key throws ModelError naming `what` and the key.
  const PyValue& Get(const std::string& key, const std::string& what) const;

  // Short human-readable description: "str 'abc'", "Namespace",
  // "placeholder built from global 'os.system'", ...
  std::string Describe() const;

  // The shared node (for the unpickler and for iterative destruction).
  const std::shared_ptr<PyNode>& SharedNode() const { return node_; }

 private:
  std::shared_ptr<PyNode> node_;
};

// Knobs of the unpickler (defaults suit torch checkpoints).
struct UnpickleOptions {
  // Bound on the values on the pickle stack plus the memo, which keeps a
  // hostile file from exhausting memory with tiny opcodes.
  size_t max_values = size_t{1} << 26;
};

// Unpickles `data` (protocol 0-5 opcodes that build data; see pickle.cpp for
// the list). Persistent ids (BINPERSID) of the form ('storage', torch.XStorage,
// key, location, numel) become kStorage values; any other persistent id is a
// ModelError. `what` names the source for messages ("checkpoint 'x.pth'").
// Throws ModelError on a malformed stream or an unknown opcode.
PyValue Unpickle(const std::string& data,
                 const std::string& what,
                 const UnpickleOptions& options = UnpickleOptions());

}  // namespace vanelia
