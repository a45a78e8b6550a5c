// The argument readers and the stack, mark and memo operations of the
// restricted unpickler (the opcode table is in pickle.cpp).
#include "vanelia/core/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "pickle_impl.hpp"

namespace vanelia::internal {

void Unpickler::Fail(size_t pos, const std::string& msg) const {
  throw ModelError(what_ + ": malformed pickle at byte " + std::to_string(pos) +
                   ": " + msg);
}

void Unpickler::Need(size_t n) {
  if (n > data_.size() - pos_) {
    Fail(pos_,
         "truncated (needs " + std::to_string(n) + " more bytes, " +
             std::to_string(data_.size() - pos_) + " left)");
  }
}

uint8_t Unpickler::ReadU8() {
  Need(1);
  return static_cast<uint8_t>(data_[pos_++]);
}

uint64_t Unpickler::ReadUnsigned(int n) {
  Need(static_cast<size_t>(n));
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i]))
         << (8 * i);
  }
  pos_ += static_cast<size_t>(n);
  return v;
}

std::string Unpickler::ReadBytes(uint64_t n) {
  if (n > data_.size() - pos_) {
    Fail(pos_,
         "length " + std::to_string(n) + " exceeds the " +
             std::to_string(data_.size() - pos_) + " bytes left");
  }
  std::string s = data_.substr(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return s;
}

std::string Unpickler::ReadLine() {
  const size_t end = data_.find('\n', pos_);
  if (end == std::string::npos) Fail(pos_, "unterminated text argument");
  std::string s = data_.substr(pos_, end - pos_);
  pos_ = end + 1;
  return s;
}

int64_t Unpickler::ParseDecimal(const std::string& s, size_t pos) {
  if (s.empty()) Fail(pos, "empty integer");
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE) {
    Fail(pos, "bad integer '" + s + "'");
  }
  return v;
}

void Unpickler::Push(PyValue v) {
  stack_.push_back(std::move(v));
}

PyValue Unpickler::Pop(size_t pos) {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
    Fail(pos, "stack underflow");
  }
  PyValue v = std::move(stack_.back());
  stack_.pop_back();
  return v;
}

PyValue& Unpickler::Top(size_t pos) {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
    Fail(pos, "stack underflow");
  }
  return stack_.back();
}

std::vector<PyValue> Unpickler::PopMark(size_t pos) {
  if (marks_.empty()) Fail(pos, "no MARK on the stack");
  const size_t m = marks_.back();
  marks_.pop_back();
  std::vector<PyValue> items(std::make_move_iterator(stack_.begin() + m),
                             std::make_move_iterator(stack_.end()));
  stack_.resize(m);
  return items;
}

PyValue Unpickler::LongFromBytes(const std::string& bytes) {
  if (bytes.empty()) return PyValue::Int(0);
  if (bytes.size() > 8) {
    return PyValue::Placeholder("builtins.int(" + std::to_string(bytes.size()) +
                                "-byte integer)");
  }
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  const bool negative = (static_cast<uint8_t>(bytes.back()) & 0x80) != 0;
  if (negative && bytes.size() < 8) {
    v |= ~uint64_t{0} << (8 * bytes.size());
  }
  int64_t s;
  std::memcpy(&s, &v, sizeof(s));
  return PyValue::Int(s);
}

PyValue Unpickler::Global(const std::string& module, const std::string& name) {
  const std::string dotted = module + "." + name;
  if (IsWhitelistedGlobal(dotted)) {
    PyValue g = MakePyNode(Kind::kGlobal);
    g.MutableNode().str_value = dotted;
    return g;
  }
  return PyValue::Placeholder(dotted);
}

void Unpickler::Memoize(uint64_t key, size_t pos) {
  memo_[key] = Top(pos);
}

PyValue Unpickler::MemoGet(uint64_t key, size_t pos) {
  const auto it = memo_.find(key);
  if (it == memo_.end()) {
    Fail(pos, "memo key " + std::to_string(key) + " was never stored");
  }
  return it->second;
}

std::string Unpickler::UnescapeStringRepr(const std::string& s) {
  // Python 2 str repr: 'abc' or "abc" with backslash escapes.
  std::string out;
  if (s.size() < 2) return s;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] != '\\' || i + 2 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'x':
        if (i + 2 < s.size()) {
          out.push_back(static_cast<char>(
              std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16)));
          i += 2;
        }
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string Unpickler::DecodeRawUnicodeEscape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() &&
        (s[i + 1] == 'u' || s[i + 1] == 'U')) {
      const size_t n = s[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n <= s.size()) {
        AppendUtf8(static_cast<uint32_t>(
                       std::strtoul(s.substr(i + 2, n).c_str(), nullptr, 16)),
                   &out);
        i += 1 + n;
        continue;
      }
    }
    AppendUtf8(static_cast<uint8_t>(s[i]), &out);
  }
  return out;
}

}  // namespace vanelia::internal
