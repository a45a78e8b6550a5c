// The command-line conventions every `vanelia` subcommand follows.
//
// - Options are declared once (name, value name, help, default); `--help`
//   is generated from them, so it cannot drift from what is parsed.
// - Usage errors throw UsageError (an InputError): exit code 2, one line that
//   names the option and the rule.
// - Exit codes: 0 success, 2 bad input or usage, 1 internal error,
//   130 interrupted (Ctrl-C or a cancelled progress callback).
// - Frames are chosen with --start N (0-based decoded index, inclusive),
//   --end N (exclusive) and --every K; Blender frame = index + 1.
// - Outputs go to a temporary file that is renamed into place; an existing
//   output is replaced only with --overwrite.
// - Progress with ETA goes to stderr; --quiet silences it.
#pragma once

#include "vanelia/core/error.hpp"
#include "vanelia/core/progress.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vanelia::cli {

class UsageError : public InputError {
 public:
  using InputError::InputError;
};

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary);

  // A required positional argument, e.g. ("VIDEO", "input video file"); a
  // last one named "CLIP..." takes one or more (GetAll).
  void AddPositional(const std::string& name, const std::string& help);
  // An option taking `nargs` values, e.g. ("--start", "N", "first frame", "0").
  // An empty default means "not set unless given".
  void AddOption(const std::string& name,
                 const std::string& metavar,
                 const std::string& help,
                 const std::string& default_value = "",
                 int nargs = 1);
  // A boolean switch, e.g. ("--overwrite", "replace an existing output").
  void AddFlag(const std::string& name, const std::string& help);
  // Adds --start/--end/--every.
  void AddFrameRangeOptions();
  // Adds -o/--output, --overwrite and --quiet.
  void AddOutputOptions(const std::string& what);

  // Free text printed after the options in --help.
  void SetEpilog(const std::string& epilog) { epilog_ = epilog; }

  // Parses argv (without the program and subcommand). Returns false when
  // --help was given (the help was printed to stdout). Throws UsageError.
  bool Parse(const std::vector<std::string>& args);

  std::string Help() const;

  bool Has(const std::string& name) const;    // given, or has a default
  bool Given(const std::string& name) const;  // given on the command line
  std::string Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  double GetDouble(const std::string& name) const;
  bool Flag(const std::string& name) const;
  std::optional<double> GetOptionalDouble(const std::string& name) const;

  // Parses value `index` of option `name` as a number, naming the option in
  // the error.
  double ParseDouble(const std::string& name, const std::string& text) const;
  int64_t ParseInt(const std::string& name, const std::string& text) const;

 private:
  struct Spec {
    std::string name;
    std::string metavar;
    std::string help;
    std::string default_value;
    int nargs = 1;  // 0 = flag
    bool positional = false;
  };

  const Spec& Find(const std::string& name) const;

  std::string program_;
  std::string summary_;
  std::string epilog_;
  std::vector<Spec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
};

// The frame selection every subcommand shares.
struct FrameRange {
  int64_t start = 0;  // first decoded index, inclusive
  int64_t end = -1;   // exclusive; -1 = to the end
  int64_t every = 1;  // keep every K-th frame

  static FrameRange FromArgs(const ArgParser& args);
};

// A progress callback for the CLI: prints to stderr unless quiet, and returns
// false once Ctrl-C was pressed (so long work stops with Cancelled, exit 130).
ProgressCallback CliProgress(bool quiet);

// Installs the SIGINT handler used by CliProgress.
void InstallInterruptHandler();
bool Interrupted();

}  // namespace vanelia::cli
