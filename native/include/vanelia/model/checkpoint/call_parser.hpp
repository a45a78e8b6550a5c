// A parser for Python call expressions over literals, used instead of eval()
// for the constructor strings stored in checkpoints, e.g.
//   MUSt3R(img_size=(224,224), enc_embed_dim=1024, memory_mode="kv", f=1e-6)
// Grammar: Name '(' [arg (',' arg)* [',']] ')' where arg is `literal` or
// `identifier '=' literal`, and literal is an int, float (incl. 1e-6, inf,
// -inf, nan), 'single' or "double" quoted string (simple escapes), True,
// False, None, a tuple `(a, b)` / `(a,)`, a list `[a, b]`, or a bare dotted
// name (e.g. `partial`-free identifiers such as ActivationType.NORM_EXP),
// which is kept as a name and never evaluated. Anything else is a ModelError.
// No LibTorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vanelia {

struct CallLiteral {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kName };
  Kind kind = Kind::kNone;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0.0;
  std::string str_value;           // kString payload or kName dotted name
  std::vector<CallLiteral> items;  // kTuple / kList

  // Python-like repr, for messages: (128, 128), 'kv', None, ...
  std::string Repr() const;
};

struct ParsedCall {
  std::string name;                     // callee, e.g. "MUSt3R"
  std::vector<CallLiteral> positional;  // in order
  std::vector<std::pair<std::string, CallLiteral>> keywords;  // in order

  // nullptr when the keyword is absent.
  const CallLiteral* Find(const std::string& keyword) const;
};

// Parses `text`; `what` names it in messages ("args.decoder"). Throws
// ModelError with the offending position on malformed input or a repeated
// keyword.
ParsedCall ParseCall(const std::string& text, const std::string& what);

}  // namespace vanelia
