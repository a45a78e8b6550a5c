// Recursive-descent parser for Python call syntax over literals (no eval).
#include "vanelia/model/checkpoint/call_parser.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace vanelia {
namespace {

constexpr int kMaxNesting = 64;

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

class CallParser {
 public:
  CallParser(const std::string& text, const std::string& what)
      : s_(text), what_(what) {}

  ParsedCall Parse() {
    ParsedCall call;
    SkipSpace();
    if (pos_ >= s_.size() || !IsIdentStart(s_[pos_])) {
      Fail("expected a class name");
    }
    call.name = DottedName();
    SkipSpace();
    Expect('(');
    SkipSpace();
    while (!Peek(')')) {
      const size_t arg_start = pos_;
      std::string keyword;
      if (IsIdentStart(s_[pos_])) {
        const size_t save = pos_;
        std::string id = Identifier();
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == '=' &&
            (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '=')) {
          ++pos_;
          keyword = id;
        } else {
          pos_ = save;
        }
      }
      CallLiteral value = Literal(0);
      if (keyword.empty()) {
        if (!call.keywords.empty()) {
          pos_ = arg_start;
          Fail("positional argument after keyword arguments");
        }
        call.positional.push_back(std::move(value));
      } else {
        if (call.Find(keyword) != nullptr) {
          pos_ = arg_start;
          Fail("keyword '" + keyword + "' given twice");
        }
        call.keywords.emplace_back(keyword, std::move(value));
      }
      SkipSpace();
      if (Peek(')')) break;
      Expect(',');
      SkipSpace();
    }
    Expect(')');
    SkipSpace();
    if (pos_ != s_.size()) Fail("unexpected text after the closing ')'");
    return call;
  }

 private:
  [[noreturn]] void Fail(const std::string& why) const {
    throw ModelError(what_ + ": malformed constructor string at column " +
                     std::to_string(pos_) + " (" + why + "): '" + s_ + "'");
  }

  void SkipSpace() {
    while (pos_ < s_.size() &&
           std::isspace(static_cast<unsigned char>(s_[pos_]))) {
      ++pos_;
    }
  }

  bool Peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

  void Expect(char c) {
    if (!Peek(c)) {
      Fail(std::string("expected '") + c + "'" +
           (pos_ < s_.size() ? std::string(", got '") + s_[pos_] + "'"
                             : std::string(", got the end")));
    }
    ++pos_;
  }

  std::string Identifier() {
    const size_t start = pos_;
    while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  std::string DottedName() {
    std::string name = Identifier();
    while (Peek('.') && pos_ + 1 < s_.size() && IsIdentStart(s_[pos_ + 1])) {
      ++pos_;
      name += "." + Identifier();
    }
    return name;
  }

  CallLiteral Sequence(char close, CallLiteral::Kind kind, int depth) {
    CallLiteral seq;
    seq.kind = kind;
    SkipSpace();
    bool trailing_comma = false;
    while (!Peek(close)) {
      seq.items.push_back(Literal(depth + 1));
      SkipSpace();
      trailing_comma = false;
      if (Peek(close)) break;
      Expect(',');
      trailing_comma = true;
      SkipSpace();
    }
    Expect(close);
    // (x) is x, not a tuple; (x,) and () are tuples.
    if (kind == CallLiteral::Kind::kTuple && seq.items.size() == 1 &&
        !trailing_comma) {
      return seq.items.front();
    }
    return seq;
  }

  CallLiteral String(char quote) {
    CallLiteral lit;
    lit.kind = CallLiteral::Kind::kString;
    ++pos_;
    while (true) {
      if (pos_ >= s_.size()) Fail("unterminated string");
      const char c = s_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        lit.str_value.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) Fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case 'n':
          lit.str_value.push_back('\n');
          break;
        case 't':
          lit.str_value.push_back('\t');
          break;
        case '\\':
        case '\'':
        case '"':
          lit.str_value.push_back(e);
          break;
        default:
          lit.str_value.push_back('\\');
          lit.str_value.push_back(e);
      }
    }
    return lit;
  }

  CallLiteral Number() {
    const size_t start = pos_;
    if (Peek('+') || Peek('-')) ++pos_;
    if (pos_ < s_.size() && IsIdentStart(s_[pos_])) {
      const std::string id = Identifier();
      if (id != "inf" && id != "nan") {
        Fail("expected a number after the sign");
      }
      CallLiteral lit;
      lit.kind = CallLiteral::Kind::kFloat;
      lit.float_value = id == "inf" ? std::numeric_limits<double>::infinity()
                                    : std::numeric_limits<double>::quiet_NaN();
      if (s_[start] == '-') lit.float_value = -lit.float_value;
      return lit;
    }
    bool is_float = false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '_') {
        ++pos_;
      } else if (c == '.') {
        is_float = true;
        ++pos_;
      } else if ((c == 'e' || c == 'E') && pos_ > start) {
        is_float = true;
        ++pos_;
        if (Peek('+') || Peek('-')) ++pos_;
      } else {
        break;
      }
    }
    std::string text = s_.substr(start, pos_ - start);
    text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
    CallLiteral lit;
    char* end = nullptr;
    errno = 0;
    if (is_float) {
      lit.kind = CallLiteral::Kind::kFloat;
      lit.float_value = std::strtod(text.c_str(), &end);
    } else {
      lit.kind = CallLiteral::Kind::kInt;
      lit.int_value = std::strtoll(text.c_str(), &end, 10);
    }
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE) {
      pos_ = start;
      Fail("bad number '" + text + "'");
    }
    return lit;
  }

  CallLiteral Literal(int depth) {
    if (depth > kMaxNesting) Fail("nesting too deep");
    SkipSpace();
    if (pos_ >= s_.size()) Fail("expected a value, got the end");
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      return Sequence(')', CallLiteral::Kind::kTuple, depth);
    }
    if (c == '[') {
      ++pos_;
      return Sequence(']', CallLiteral::Kind::kList, depth);
    }
    if (c == '\'' || c == '"') return String(c);
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' ||
        c == '.') {
      return Number();
    }
    if (IsIdentStart(c)) {
      const size_t start = pos_;
      const std::string name = DottedName();
      CallLiteral lit;
      if (name == "True" || name == "False") {
        lit.kind = CallLiteral::Kind::kBool;
        lit.bool_value = name == "True";
      } else if (name == "None") {
        lit.kind = CallLiteral::Kind::kNone;
      } else if (name == "inf" || name == "nan") {
        pos_ = start;
        return Number();
      } else {
        SkipSpace();
        if (Peek('(')) {
          pos_ = start;
          Fail("a call '" + name + "(...)' is not a literal");
        }
        lit.kind = CallLiteral::Kind::kName;
        lit.str_value = name;
      }
      return lit;
    }
    Fail(std::string("unexpected character '") + c + "'");
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

}  // namespace

std::string CallLiteral::Repr() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return bool_value ? "True" : "False";
    case Kind::kInt:
      return std::to_string(int_value);
    case Kind::kFloat:
      os << float_value;
      return os.str();
    case Kind::kString:
      return "'" + str_value + "'";
    case Kind::kName:
      return str_value;
    case Kind::kTuple:
    case Kind::kList:
      os << (kind == Kind::kTuple ? "(" : "[");
      for (size_t i = 0; i < items.size(); ++i) {
        os << (i ? ", " : "") << items[i].Repr();
      }
      if (kind == Kind::kTuple && items.size() == 1) os << ",";
      os << (kind == Kind::kTuple ? ")" : "]");
      return os.str();
  }
  return "?";
}

const CallLiteral* ParsedCall::Find(const std::string& keyword) const {
  for (const auto& [k, v] : keywords) {
    if (k == keyword) return &v;
  }
  return nullptr;
}

ParsedCall ParseCall(const std::string& text, const std::string& what) {
  return CallParser(text, what).Parse();
}

}  // namespace vanelia
