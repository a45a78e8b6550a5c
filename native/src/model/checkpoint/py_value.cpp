// PyValue: the inert value tree of the restricted unpickler.
#include "vanelia/core/error.hpp"

#include <sstream>

#include "pickle_impl.hpp"

namespace vanelia {
namespace internal {

using Kind = PyNode::Kind;

PyValue MakePyNode(Kind kind) {
  auto node = std::make_shared<PyNode>();
  node->kind = kind;
  return PyValue(std::move(node));
}

const char* PyKindName(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kSet:
      return "set";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kStorage:
      return "storage";
    case Kind::kTensor:
      return "tensor";
    case Kind::kGlobal:
      return "global";
    case Kind::kPlaceholder:
      return "placeholder";
    case Kind::kNumpyDtype:
      return "numpy.dtype";
    case Kind::kSlice:
      return "slice";
  }
  return "?";
}

}  // namespace internal

using internal::MakePyNode;
using internal::PyKindName;

const char* StorageDtypeName(StorageDtype dtype) {
  switch (dtype) {
    case StorageDtype::kFloat32:
      return "float32";
    case StorageDtype::kFloat64:
      return "float64";
    case StorageDtype::kFloat16:
      return "float16";
    case StorageDtype::kBFloat16:
      return "bfloat16";
    case StorageDtype::kInt64:
      return "int64";
    case StorageDtype::kInt32:
      return "int32";
    case StorageDtype::kInt16:
      return "int16";
    case StorageDtype::kInt8:
      return "int8";
    case StorageDtype::kUInt8:
      return "uint8";
    case StorageDtype::kBool:
      return "bool";
  }
  return "?";
}

int StorageDtypeSize(StorageDtype dtype) {
  switch (dtype) {
    case StorageDtype::kFloat64:
    case StorageDtype::kInt64:
      return 8;
    case StorageDtype::kFloat32:
    case StorageDtype::kInt32:
      return 4;
    case StorageDtype::kFloat16:
    case StorageDtype::kBFloat16:
    case StorageDtype::kInt16:
      return 2;
    case StorageDtype::kInt8:
    case StorageDtype::kUInt8:
    case StorageDtype::kBool:
      return 1;
  }
  return 1;
}

PyNode::~PyNode() {
  // Move children out and release them iteratively: a child whose last
  // reference is ours has its own children moved onto the work list before
  // it dies, so no destructor recurses more than one level.
  std::vector<std::shared_ptr<PyNode>> work;
  auto take = [&work](PyNode& n) {
    for (auto& v : n.items) work.push_back(v.SharedNode());
    for (auto& [k, v] : n.entries) {
      work.push_back(k.SharedNode());
      work.push_back(v.SharedNode());
    }
    for (auto& [k, v] : n.attrs) work.push_back(v.SharedNode());
    n.items.clear();
    n.entries.clear();
    n.attrs.clear();
  };
  take(*this);
  while (!work.empty()) {
    std::shared_ptr<PyNode> n = std::move(work.back());
    work.pop_back();
    if (n && n.use_count() == 1) take(*n);
  }
}

PyValue::PyValue() : node_(std::make_shared<PyNode>()) {}

PyValue::PyValue(std::shared_ptr<PyNode> node) : node_(std::move(node)) {
  if (!node_) node_ = std::make_shared<PyNode>();
}

PyValue PyValue::None() {
  return PyValue();
}

PyValue PyValue::Bool(bool v) {
  PyValue r = MakePyNode(Kind::kBool);
  r.node_->bool_value = v;
  return r;
}

PyValue PyValue::Int(int64_t v) {
  PyValue r = MakePyNode(Kind::kInt);
  r.node_->int_value = v;
  return r;
}

PyValue PyValue::Float(double v) {
  PyValue r = MakePyNode(Kind::kFloat);
  r.node_->float_value = v;
  return r;
}

PyValue PyValue::String(std::string v) {
  PyValue r = MakePyNode(Kind::kString);
  r.node_->str_value = std::move(v);
  return r;
}

PyValue PyValue::Bytes(std::string v) {
  PyValue r = MakePyNode(Kind::kBytes);
  r.node_->str_value = std::move(v);
  return r;
}

PyValue PyValue::Tuple(std::vector<PyValue> items) {
  PyValue r = MakePyNode(Kind::kTuple);
  r.node_->items = std::move(items);
  return r;
}

PyValue PyValue::List(std::vector<PyValue> items) {
  PyValue r = MakePyNode(Kind::kList);
  r.node_->items = std::move(items);
  return r;
}

PyValue PyValue::Dict() {
  return MakePyNode(Kind::kDict);
}

PyValue PyValue::Placeholder(std::string global_name) {
  PyValue r = MakePyNode(Kind::kPlaceholder);
  r.node_->str_value = std::move(global_name);
  return r;
}

std::string PyValue::Describe() const {
  const PyNode& n = *node_;
  switch (n.kind) {
    case Kind::kPlaceholder:
      return "placeholder built from global '" + n.str_value +
             "' (not whitelisted, never called)";
    case Kind::kGlobal:
      return "global '" + n.str_value + "'";
    case Kind::kBool:
      return n.bool_value ? "bool True" : "bool False";
    case Kind::kInt:
      return "int " + std::to_string(n.int_value);
    case Kind::kFloat: {
      std::ostringstream os;
      os << "float " << n.float_value;
      return os.str();
    }
    case Kind::kString:
      return "str '" +
             (n.str_value.size() > 60 ? n.str_value.substr(0, 60) + "..."
                                      : n.str_value) +
             "'";
    case Kind::kBytes:
      return "bytes of length " + std::to_string(n.str_value.size());
    case Kind::kTuple:
    case Kind::kList:
    case Kind::kSet:
      return std::string(PyKindName(n.kind)) + " of " +
             std::to_string(n.items.size()) + " items";
    case Kind::kDict:
      return std::string(n.ordered_dict ? "OrderedDict" : "dict") + " of " +
             std::to_string(n.entries.size()) + " items";
    case Kind::kStorage:
      return std::string("storage '") + n.storage.key + "' (" +
             StorageDtypeName(n.storage.dtype) + ")";
    case Kind::kTensor:
      return std::string("tensor (") +
             StorageDtypeName(n.tensor.storage.dtype) + ")";
    case Kind::kNumpyDtype:
      return "numpy.dtype '" + n.str_value + "'";
    default:
      return PyKindName(n.kind);
  }
}

namespace {

[[noreturn]] void WrongKind(const PyValue& v,
                            const char* want,
                            const std::string& what) {
  throw ModelError(what + ": expected " + want + ", got " + v.Describe());
}

}  // namespace

bool PyValue::AsBool(const std::string& what) const {
  if (!Is(Kind::kBool)) WrongKind(*this, "bool", what);
  return node_->bool_value;
}

int64_t PyValue::AsInt(const std::string& what) const {
  if (!Is(Kind::kInt)) WrongKind(*this, "int", what);
  return node_->int_value;
}

double PyValue::AsFloat(const std::string& what) const {
  if (Is(Kind::kInt)) return static_cast<double>(node_->int_value);
  if (!Is(Kind::kFloat)) WrongKind(*this, "float", what);
  return node_->float_value;
}

const std::string& PyValue::AsString(const std::string& what) const {
  if (!Is(Kind::kString)) WrongKind(*this, "str", what);
  return node_->str_value;
}

const std::vector<PyValue>& PyValue::AsSequence(const std::string& what) const {
  if (!Is(Kind::kTuple) && !Is(Kind::kList)) {
    WrongKind(*this, "tuple or list", what);
  }
  return node_->items;
}

const TensorRef& PyValue::AsTensor(const std::string& what) const {
  if (!Is(Kind::kTensor)) WrongKind(*this, "tensor", what);
  return node_->tensor;
}

const PyValue* PyValue::Find(const std::string& key) const {
  if (Is(Kind::kDict)) {
    for (const auto& [k, v] : node_->entries) {
      if (k.Is(Kind::kString) && k.Node().str_value == key) return &v;
    }
    return nullptr;
  }
  for (const auto& [k, v] : node_->attrs) {
    if (k == key) return &v;
  }
  return nullptr;
}

const PyValue& PyValue::Get(const std::string& key,
                            const std::string& what) const {
  const PyValue* v = Find(key);
  if (v == nullptr) {
    throw ModelError(what + ": no '" + key + "' in " + Describe());
  }
  return *v;
}

}  // namespace vanelia
