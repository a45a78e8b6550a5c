// Validation of JSON documents read by the track module (track files,
// gt.json): every failure is an InputError naming the document, the key path
// and the rule, e.g. "track 'x.json': frames[3].K: must be 3x3".
#pragma once

#include "vanelia/core/error.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <Eigen/Core>

#include <nlohmann/json.hpp>

namespace vanelia::internal {

using Json = nlohmann::ordered_json;

// Why a text is not JSON, in printable ASCII: nlohmann's parse errors quote
// the bytes they read, which for a binary file are not text.
inline std::string JsonErrorText(const Json::exception& error) {
  if (const auto* parse = dynamic_cast<const Json::parse_error*>(&error)) {
    return "syntax error at byte " + std::to_string(parse->byte);
  }
  std::string text = error.what();
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 ||
        static_cast<unsigned char>(c) > 0x7e) {
      c = '?';
    }
  }
  return text;
}

inline std::string Index(const std::string& key, size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

// Validation context: a document's name and the checks, each failing with
// the key path and the rule.
class Checker {
 public:
  // `prefix` starts every message, e.g. "track 'x.json'".
  explicit Checker(std::string prefix) : prefix_(std::move(prefix)) {}

  [[noreturn]] void Fail(const std::string& key,
                         const std::string& rule) const {
    throw InputError(prefix_ + (key.empty() ? "" : ": " + key) + ": " + rule);
  }

  const Json& Member(const Json& object,
                     const std::string& parent,
                     const char* key) const {
    const std::string path = parent.empty() ? key : parent + "." + key;
    const auto it = object.find(key);
    if (it == object.end()) Fail(path, "is missing");
    return *it;
  }

  static std::string Path(const std::string& parent, const char* key) {
    return parent.empty() ? key : parent + "." + key;
  }

  const Json& Object(const Json& value, const std::string& key) const {
    if (!value.is_object()) Fail(key, "must be an object");
    return value;
  }

  std::string String(const Json& value, const std::string& key) const {
    if (!value.is_string()) Fail(key, "must be a string");
    return value.get<std::string>();
  }

  int64_t Integer(const Json& value,
                  const std::string& key,
                  int64_t min) const {
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() &&
         value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) ||
        value.get<int64_t>() < min) {
      Fail(key, "must be an integer >= " + std::to_string(min));
    }
    return value.get<int64_t>();
  }

  double Number(const Json& value, const std::string& key) const {
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      Fail(key, "must be a finite number");
    }
    return value.get<double>();
  }

  double Unit(const Json& value, const std::string& key) const {
    const double x = Number(value, key);
    if (!(x >= 0.0 && x <= 1.0)) Fail(key, "must be a number in [0, 1]");
    return x;
  }

  // A number >= 0 (or > 0 when `strict`), or null.
  std::optional<double> NumberOrNull(const Json& value,
                                     const std::string& key,
                                     bool strict) const {
    if (value.is_null()) return std::nullopt;
    const std::string rule =
        std::string("must be a number ") + (strict ? ">" : ">=") + " 0 or null";
    if (!value.is_number()) Fail(key, rule);
    const double x = value.get<double>();
    if (!std::isfinite(x) || (strict ? !(x > 0.0) : !(x >= 0.0))) {
      Fail(key, rule);
    }
    return x;
  }

  Eigen::MatrixXd Matrix(const Json& value,
                         const std::string& key,
                         int rows,
                         int cols) const {
    const std::string rule =
        "must be " + std::to_string(rows) + "x" + std::to_string(cols);
    if (!value.is_array() || value.size() != static_cast<size_t>(rows)) {
      Fail(key, rule);
    }
    Eigen::MatrixXd m(rows, cols);
    for (int r = 0; r < rows; ++r) {
      const Json& row = value[r];
      if (!row.is_array() || row.size() != static_cast<size_t>(cols)) {
        Fail(key, rule);
      }
      for (int c = 0; c < cols; ++c) {
        m(r, c) = Number(row[c], Index(Index(key, r), c));
      }
    }
    return m;
  }

  Eigen::Vector3d Vector3(const Json& value, const std::string& key) const {
    if (!value.is_array() || value.size() != 3) Fail(key, "must be a 3-vector");
    return {Number(value[0], Index(key, 0)),
            Number(value[1], Index(key, 1)),
            Number(value[2], Index(key, 2))};
  }

  template <typename Enum, size_t N>
  Enum Choice(const Json& value,
              const std::string& key,
              const std::pair<const char*, Enum> (&choices)[N]) const {
    std::string names;
    for (const auto& [name, e] : choices) {
      if (value.is_string() && value.get<std::string>() == name) return e;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    Fail(key, "must be one of " + names);
  }

 private:
  std::string prefix_;
};

}  // namespace vanelia::internal
