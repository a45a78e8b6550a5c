// Restricted unpickler: builds inert data, never calls anything.
//
// Opcodes understood (pickle protocols 0-5, Lib/pickletools.py names):
//   framing     PROTO FRAME STOP
//   stack       MARK POP POP_MARK DUP
//   constants   NONE NEWTRUE NEWFALSE
//   ints        INT BININT BININT1 BININT2 LONG LONG1 LONG4
//   floats      FLOAT BINFLOAT
//   strings     STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE
//               SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES
//               BINBYTES8 BYTEARRAY8
//   containers  EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND
//               APPENDS EMPTY_DICT DICT SETITEM SETITEMS EMPTY_SET ADDITEMS
//               FROZENSET
//   memo        GET BINGET LONG_BINGET PUT BINPUT LONG_BINPUT MEMOIZE
//   objects     GLOBAL STACK_GLOBAL REDUCE BUILD INST OBJ NEWOBJ NEWOBJ_EX
//               EXT1 EXT2 EXT4 (placeholders)
//   persistence PERSID BINPERSID (torch storages only)
// Out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER) are refused.
//
// Calls (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ) are interpreted only for the
// whitelist in Call() below; everything else yields a kPlaceholder naming the
// global.
#include "vanelia/model/checkpoint/pickle.hpp"

#include "vanelia/core/error.hpp"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "pickle_impl.hpp"

namespace vanelia::internal {

PyValue Unpickler::Run() {
  while (true) {
    const size_t opcode_pos = pos_;
    const uint8_t op = ReadU8();
    if (op == '.') {
      if (stack_.size() != 1 || !marks_.empty()) {
        Fail(opcode_pos,
             "STOP with " + std::to_string(stack_.size()) +
                 " values on the stack; want exactly 1");
      }
      return stack_.back();
    }
    Dispatch(op, opcode_pos);
    if (stack_.size() + memo_.size() > options_.max_values) {
      Fail(opcode_pos,
           "more than " + std::to_string(options_.max_values) +
               " values on the stack and memo");
    }
  }
}

// The opcode table: one short case per opcode, read as a table. Kept as one
// switch on purpose (exempt from the function-size limit by name in
// native/scripts/check_sizes.py): splitting it would scatter the table.
void Unpickler::Dispatch(uint8_t op, size_t p) {
  switch (op) {
    case 0x80:  // PROTO
      if (ReadU8() > 5) Fail(p, "pickle protocol above 5");
      break;
    case 0x95:  // FRAME
      ReadUnsigned(8);
      break;
    case '(':  // MARK
      marks_.push_back(stack_.size());
      break;
    case '0':  // POP
      if (!marks_.empty() && marks_.back() == stack_.size()) {
        marks_.pop_back();
      } else {
        Pop(p);
      }
      break;
    case '1':  // POP_MARK
      PopMark(p);
      break;
    case '2':  // DUP
      Push(Top(p));
      break;
    case 'N':
      Push(PyValue::None());
      break;
    case 0x88:
      Push(PyValue::Bool(true));
      break;
    case 0x89:
      Push(PyValue::Bool(false));
      break;
    case 'I': {  // INT (text); "01"/"00" are True/False
      const std::string s = ReadLine();
      if (s == "01") {
        Push(PyValue::Bool(true));
      } else if (s == "00") {
        Push(PyValue::Bool(false));
      } else {
        Push(PyValue::Int(ParseDecimal(s, p)));
      }
      break;
    }
    case 'J': {  // BININT
      const auto v = static_cast<uint32_t>(ReadUnsigned(4));
      int32_t s;
      std::memcpy(&s, &v, 4);
      Push(PyValue::Int(s));
      break;
    }
    case 'K':
      Push(PyValue::Int(static_cast<int64_t>(ReadUnsigned(1))));
      break;
    case 'M':
      Push(PyValue::Int(static_cast<int64_t>(ReadUnsigned(2))));
      break;
    case 'L': {  // LONG (text, trailing 'L')
      std::string s = ReadLine();
      if (!s.empty() && s.back() == 'L') s.pop_back();
      Push(PyValue::Int(ParseDecimal(s, p)));
      break;
    }
    case 0x8a:  // LONG1
      Push(LongFromBytes(ReadBytes(ReadUnsigned(1))));
      break;
    case 0x8b:  // LONG4
      Push(LongFromBytes(ReadBytes(ReadUnsigned(4))));
      break;
    case 'F': {  // FLOAT (text)
      const std::string s = ReadLine();
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (end != s.c_str() + s.size()) Fail(p, "bad float '" + s + "'");
      Push(PyValue::Float(v));
      break;
    }
    case 'G': {  // BINFLOAT: big-endian IEEE double
      Need(8);
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) {
        bits = (bits << 8) | static_cast<uint8_t>(data_[pos_ + i]);
      }
      pos_ += 8;
      double v;
      std::memcpy(&v, &bits, 8);
      Push(PyValue::Float(v));
      break;
    }
    case 'S':  // STRING (python 2 str repr)
      Push(PyValue::String(UnescapeStringRepr(ReadLine())));
      break;
    case 'T':  // BINSTRING
      Push(PyValue::String(ReadBytes(ReadUnsigned(4))));
      break;
    case 'U':  // SHORT_BINSTRING
      Push(PyValue::String(ReadBytes(ReadUnsigned(1))));
      break;
    case 'V':  // UNICODE (raw-unicode-escape)
      Push(PyValue::String(DecodeRawUnicodeEscape(ReadLine())));
      break;
    case 'X':  // BINUNICODE
      Push(PyValue::String(ReadBytes(ReadUnsigned(4))));
      break;
    case 0x8c:  // SHORT_BINUNICODE
      Push(PyValue::String(ReadBytes(ReadUnsigned(1))));
      break;
    case 0x8d:  // BINUNICODE8
      Push(PyValue::String(ReadBytes(ReadUnsigned(8))));
      break;
    case 'B':  // BINBYTES
      Push(PyValue::Bytes(ReadBytes(ReadUnsigned(4))));
      break;
    case 'C':  // SHORT_BINBYTES
      Push(PyValue::Bytes(ReadBytes(ReadUnsigned(1))));
      break;
    case 0x8e:  // BINBYTES8
    case 0x96:  // BYTEARRAY8
      Push(PyValue::Bytes(ReadBytes(ReadUnsigned(8))));
      break;
    case ')':
      Push(PyValue::Tuple({}));
      break;
    case 't':
      Push(PyValue::Tuple(PopMark(p)));
      break;
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      const size_t n = op - 0x84;
      std::vector<PyValue> items(n);
      for (size_t i = n; i-- > 0;) items[i] = Pop(p);
      Push(PyValue::Tuple(std::move(items)));
      break;
    }
    case ']':
      Push(PyValue::List({}));
      break;
    case 'l':
      Push(PyValue::List(PopMark(p)));
      break;
    case 'a': {  // APPEND
      PyValue v = Pop(p);
      AppendItems(Top(p), {std::move(v)}, p);
      break;
    }
    case 'e': {  // APPENDS
      std::vector<PyValue> items = PopMark(p);
      AppendItems(Top(p), std::move(items), p);
      break;
    }
    case '}':
      Push(PyValue::Dict());
      break;
    case 'd': {  // DICT
      std::vector<PyValue> kv = PopMark(p);
      PyValue d = PyValue::Dict();
      SetItems(d, std::move(kv), p);
      Push(std::move(d));
      break;
    }
    case 's': {  // SETITEM
      PyValue v = Pop(p);
      PyValue k = Pop(p);
      SetItems(Top(p), {std::move(k), std::move(v)}, p);
      break;
    }
    case 'u': {  // SETITEMS
      std::vector<PyValue> kv = PopMark(p);
      SetItems(Top(p), std::move(kv), p);
      break;
    }
    case 0x8f:  // EMPTY_SET
      Push(MakePyNode(Kind::kSet));
      break;
    case 0x90: {  // ADDITEMS
      std::vector<PyValue> items = PopMark(p);
      const PyValue& target = Top(p);
      if (target.Is(Kind::kSet)) {
        for (auto& v : items)
          target.MutableNode().items.push_back(std::move(v));
      } else if (!target.IsPlaceholder()) {
        Fail(p, std::string("ADDITEMS on a ") + PyKindName(target.GetKind()));
      }
      break;
    }
    case 0x91: {  // FROZENSET
      PyValue s = MakePyNode(Kind::kSet);
      s.MutableNode().items = PopMark(p);
      Push(std::move(s));
      break;
    }
    case 'g':
      Push(MemoGet(static_cast<uint64_t>(ParseDecimal(ReadLine(), p)), p));
      break;
    case 'h':
      Push(MemoGet(ReadUnsigned(1), p));
      break;
    case 'j':
      Push(MemoGet(ReadUnsigned(4), p));
      break;
    case 'p':
      Memoize(static_cast<uint64_t>(ParseDecimal(ReadLine(), p)), p);
      break;
    case 'q':
      Memoize(ReadUnsigned(1), p);
      break;
    case 'r':
      Memoize(ReadUnsigned(4), p);
      break;
    case 0x94:  // MEMOIZE
      Memoize(memo_.size(), p);
      break;
    case 'c': {  // GLOBAL
      const std::string module = ReadLine();
      const std::string name = ReadLine();
      Push(Global(module, name));
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      PyValue name = Pop(p);
      PyValue module = Pop(p);
      if (!name.Is(Kind::kString) || !module.Is(Kind::kString)) {
        Fail(p, "STACK_GLOBAL needs two str");
      }
      Push(Global(module.Node().str_value, name.Node().str_value));
      break;
    }
    case 'R': {  // REDUCE
      PyValue args = Pop(p);
      PyValue callable = Pop(p);
      Push(Call(callable, args, p));
      break;
    }
    case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
      PyValue args = Pop(p);
      PyValue cls = Pop(p);
      Push(Call(cls, args, p));
      break;
    }
    case 0x92: {  // NEWOBJ_EX: cls, args, kwargs
      PyValue kwargs = Pop(p);
      PyValue args = Pop(p);
      PyValue cls = Pop(p);
      PyValue r = Call(cls, args, p);
      if (!kwargs.Is(Kind::kDict) || !kwargs.Node().entries.empty()) {
        r = r.IsPlaceholder()
                ? r
                : PyValue::Placeholder(cls.Node().str_value + "(**kwargs)");
      }
      Push(std::move(r));
      break;
    }
    case 'i': {  // INST module\nname\n, args since MARK
      const std::string module = ReadLine();
      const std::string name = ReadLine();
      std::vector<PyValue> args = PopMark(p);
      Push(Call(Global(module, name), PyValue::Tuple(std::move(args)), p));
      break;
    }
    case 'o': {  // OBJ: MARK cls args...
      std::vector<PyValue> items = PopMark(p);
      if (items.empty()) Fail(p, "OBJ without a class");
      PyValue cls = items.front();
      items.erase(items.begin());
      Push(Call(cls, PyValue::Tuple(std::move(items)), p));
      break;
    }
    case 'b': {  // BUILD
      PyValue state = Pop(p);
      Build(Top(p), state, p);
      break;
    }
    case 0x82:
    case 0x83:
    case 0x84: {  // EXT1/2/4: copyreg extension registry
      const uint64_t code = ReadUnsigned(op == 0x82 ? 1 : (op == 0x83 ? 2 : 4));
      Push(PyValue::Placeholder("copyreg extension " + std::to_string(code)));
      break;
    }
    case 'P': {  // PERSID (text id)
      Push(PersistentLoad(PyValue::String(ReadLine()), p));
      break;
    }
    case 'Q': {  // BINPERSID
      PyValue pid = Pop(p);
      Push(PersistentLoad(pid, p));
      break;
    }
    case 0x97:
    case 0x98:
      Fail(p, "out-of-band buffers (pickle protocol 5) are not supported");
    default: {
      std::ostringstream os;
      os << "unknown opcode 0x" << std::hex << static_cast<int>(op);
      Fail(p, os.str());
    }
  }
}

void Unpickler::AppendItems(const PyValue& target,
                            std::vector<PyValue> items,
                            size_t pos) {
  if (target.Is(Kind::kList)) {
    auto& dst = target.MutableNode().items;
    for (auto& v : items) dst.push_back(std::move(v));
  } else if (!target.IsPlaceholder()) {
    // list subclasses reduce to placeholders; anything else is malformed.
    Fail(pos, std::string("APPEND(S) on a ") + PyKindName(target.GetKind()));
  }
}

void Unpickler::SetItems(const PyValue& target,
                         std::vector<PyValue> kv,
                         size_t pos) {
  if (kv.size() % 2 != 0) Fail(pos, "SETITEMS with an odd number of values");
  if (target.IsPlaceholder()) return;
  if (!target.Is(Kind::kDict)) {
    Fail(pos, std::string("SETITEM(S) on a ") + PyKindName(target.GetKind()));
  }
  auto& entries = target.MutableNode().entries;
  for (size_t i = 0; i < kv.size(); i += 2) {
    // Replace an existing str/int key (dict semantics); other keys append.
    bool replaced = false;
    const PyValue& key = kv[i];
    if (key.Is(Kind::kString) || key.Is(Kind::kInt)) {
      for (auto& [k, v] : entries) {
        if (k.GetKind() == key.GetKind() &&
            k.Node().str_value == key.Node().str_value &&
            k.Node().int_value == key.Node().int_value) {
          v = kv[i + 1];
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) entries.emplace_back(kv[i], kv[i + 1]);
  }
}

void Unpickler::Build(const PyValue& target, const PyValue& state, size_t pos) {
  if (target.IsPlaceholder()) return;  // never call __setstate__
  PyNode& node = target.MutableNode();
  if (target.Is(Kind::kNumpyDtype)) {
    // state = (version, byteorder, subarray, names, fields, elsize, align,
    // flags): keep the byte order.
    if (state.Is(Kind::kTuple) && state.Node().items.size() >= 2 &&
        state.Node().items[1].Is(Kind::kString)) {
      const std::string& order = state.Node().items[1].Node().str_value;
      std::string& descr = node.str_value;
      if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' ||
                             descr[0] == '|' || descr[0] == '=')) {
        descr.erase(0, 1);
      }
      descr = (order == "=" ? "<" : order) + descr;
    }
    return;
  }
  if (target.Is(Kind::kTensor)) return;  // _rebuild_parameter_with_state etc.
  auto set_attrs = [&](const PyValue& dict) {
    if (dict.IsNone()) return;
    if (!dict.Is(Kind::kDict)) {
      Fail(pos, std::string("BUILD state is a ") + PyKindName(dict.GetKind()));
    }
    for (const auto& [k, v] : dict.Node().entries) {
      if (!k.Is(Kind::kString)) Fail(pos, "BUILD state key is not a str");
      bool replaced = false;
      for (auto& [name, value] : node.attrs) {
        if (name == k.Node().str_value) {
          value = v;
          replaced = true;
        }
      }
      if (!replaced) node.attrs.emplace_back(k.Node().str_value, v);
    }
  };
  if (!target.Is(Kind::kDict) && !target.Is(Kind::kNamespace) &&
      !target.Is(Kind::kList) && !target.Is(Kind::kSet)) {
    Fail(pos, std::string("BUILD on a ") + PyKindName(target.GetKind()));
  }
  if (state.Is(Kind::kTuple) && state.Node().items.size() == 2) {
    set_attrs(state.Node().items[0]);  // (state, slotstate)
    set_attrs(state.Node().items[1]);
  } else {
    set_attrs(state);
  }
}

PyValue Unpickler::PersistentLoad(const PyValue& pid, size_t pos) {
  const auto bad = [&](const std::string& why) {
    throw ModelError(what_ + ": unsupported persistent id " + pid.Describe() +
                     " at byte " + std::to_string(pos) + ": " + why +
                     "; only ('storage', torch.<T>Storage, key, location, "
                     "numel) is accepted");
  };
  if (!pid.Is(Kind::kTuple)) bad("not a tuple");
  const auto& t = pid.Node().items;
  if (t.size() != 5 || !t[0].Is(Kind::kString) ||
      t[0].Node().str_value != "storage") {
    bad("not a 5-tuple starting with 'storage'");
  }
  if (t[1].IsPlaceholder()) {
    throw ModelError(what_ + ": storage type is the non-whitelisted global '" +
                     t[1].Node().str_value + "'");
  }
  StorageRef ref;
  if (!t[1].Is(Kind::kGlobal) ||
      !StorageDtypeFromClass(t[1].Node().str_value, &ref.dtype)) {
    bad("second item is not a torch storage class");
  }
  if (!t[2].Is(Kind::kString)) bad("key is not a str");
  ref.key = t[2].Node().str_value;
  if (t[3].Is(Kind::kString)) ref.location = t[3].Node().str_value;
  if (!t[4].Is(Kind::kInt) || t[4].Node().int_value < 0) {
    bad("numel is not a non-negative int");
  }
  ref.numel = t[4].Node().int_value;
  PyValue v = MakePyNode(Kind::kStorage);
  v.MutableNode().storage = ref;
  return v;
}

PyValue Unpickler::Call(const PyValue& callable,
                        const PyValue& args,
                        size_t pos) {
  if (callable.IsPlaceholder()) {
    return PyValue::Placeholder(callable.Node().str_value);
  }
  if (!callable.Is(Kind::kGlobal)) {
    Fail(pos, std::string("call of a ") + PyKindName(callable.GetKind()));
  }
  if (!args.Is(Kind::kTuple)) {
    Fail(pos,
         "call arguments are a " + std::string(PyKindName(args.GetKind())) +
             ", not a tuple");
  }
  return CallWhitelistedGlobal(callable.Node().str_value,
                               args.Node().items,
                               [&](const std::string& m) { Fail(pos, m); });
}

}  // namespace vanelia::internal

namespace vanelia {

PyValue Unpickle(const std::string& data,
                 const std::string& what,
                 const UnpickleOptions& options) {
  if (data.empty()) throw ModelError(what + ": empty pickle");
  return internal::Unpickler(data, what, options).Run();
}

}  // namespace vanelia
