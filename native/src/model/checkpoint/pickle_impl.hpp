// Private to the restricted unpickler (pickle.cpp, pickle_reader.cpp,
// pickle_whitelist.cpp, py_value.cpp).
#pragma once

#include "vanelia/model/checkpoint/pickle.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
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

// The pickle virtual machine: reads opcodes from `data` and builds inert
// values on its stack and memo. Run() and the opcode table are in
// pickle.cpp; argument reading and the stack and memo operations in
// pickle_reader.cpp.
class Unpickler {
 public:
  Unpickler(const std::string& data,
            const std::string& what,
            const UnpickleOptions& options)
      : data_(data), what_(what), options_(options) {}

  // Runs to STOP; the one value left on the stack.
  PyValue Run();

 private:
  using Kind = PyNode::Kind;

  // Throws ModelError naming `what_`, the byte offset and `msg`.
  [[noreturn]] void Fail(size_t pos, const std::string& msg) const;

  // Opcode arguments (pickle_reader.cpp).
  void Need(size_t n);
  uint8_t ReadU8();
  uint64_t ReadUnsigned(int n);
  std::string ReadBytes(uint64_t n);
  std::string ReadLine();
  int64_t ParseDecimal(const std::string& s, size_t pos);

  // Stack, marks and memo (pickle_reader.cpp).
  void Push(PyValue v);
  PyValue Pop(size_t pos);
  PyValue& Top(size_t pos);
  // Pops everything above the last MARK (and the mark).
  std::vector<PyValue> PopMark(size_t pos);
  void Memoize(uint64_t key, size_t pos);
  PyValue MemoGet(uint64_t key, size_t pos);

  // Values from opcode arguments (pickle_reader.cpp).
  PyValue LongFromBytes(const std::string& bytes);
  PyValue Global(const std::string& module, const std::string& name);
  static std::string UnescapeStringRepr(const std::string& s);
  static std::string DecodeRawUnicodeEscape(const std::string& s);

  // The opcode table and the object operations (pickle.cpp).
  void Dispatch(uint8_t op, size_t p);
  PyValue Call(const PyValue& callable, const PyValue& args, size_t pos);
  void Build(const PyValue& target, const PyValue& state, size_t pos);
  void SetItems(const PyValue& target, std::vector<PyValue> kv, size_t pos);
  void AppendItems(const PyValue& target,
                   std::vector<PyValue> items,
                   size_t pos);
  PyValue PersistentLoad(const PyValue& pid, size_t pos);

  const std::string& data_;
  const std::string& what_;
  const UnpickleOptions& options_;
  size_t pos_ = 0;
  std::vector<PyValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyValue> memo_;
};

}  // namespace vanelia::internal
