// Error types of the Vanelia native library.
//
// The library is a guest inside Blender's process: it never aborts or exits.
// Every failure is an exception derived from vanelia::Error, whose message
// names the thing, its value and the rule it broke (Ceres style), e.g.
//   "TrackOptions::every = 0; must be >= 1".
// Expected "no answer" outcomes (no plane found, RANSAC failed) are values
// (std::optional, reports), never exceptions.
#pragma once

#include <stdexcept>
#include <string>

namespace vanelia {

// Base of every error the library throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The caller's input is unusable: a bad option, a missing file, a bad track.
class InputError : public Error {
 public:
  using Error::Error;
};

// A network checkpoint or model configuration cannot be used.
class ModelError : public Error {
 public:
  using Error::Error;
};

// A video or image could not be decoded; carries libav's text when relevant.
class DecodeError : public InputError {
 public:
  using InputError::InputError;
};

// A progress callback asked to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// A broken internal invariant (a bug): thrown by VANELIA_CHECK.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace vanelia
