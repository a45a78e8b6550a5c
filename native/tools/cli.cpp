#include "cli.hpp"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <utility>

namespace vanelia::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSigint(int /*signal*/) {
  g_interrupted = true;
}

}  // namespace

ArgParser::ArgParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {
  AddFlag("--help", "show this help and exit");
}

void ArgParser::AddPositional(const std::string& name,
                              const std::string& help) {
  Spec spec;
  spec.name = name;
  spec.help = help;
  spec.positional = true;
  specs_.push_back(spec);
}

void ArgParser::AddOption(const std::string& name,
                          const std::string& metavar,
                          const std::string& help,
                          const std::string& default_value,
                          int nargs) {
  Spec spec;
  spec.name = name;
  spec.metavar = metavar;
  spec.help = help;
  spec.default_value = default_value;
  spec.nargs = nargs;
  specs_.push_back(spec);
}

void ArgParser::AddFlag(const std::string& name, const std::string& help) {
  Spec spec;
  spec.name = name;
  spec.help = help;
  spec.nargs = 0;
  specs_.push_back(spec);
}

void ArgParser::AddFrameRangeOptions() {
  AddOption(
      "--start", "N", "first frame, 0-based decoded index (inclusive)", "0");
  AddOption("--end", "N", "stop before this frame (exclusive); default: end");
  AddOption("--every", "K", "use every K-th frame", "1");
}

void ArgParser::AddOutputOptions(const std::string& what) {
  AddOption("--output", "PATH", what + " (required)");
  AddFlag("--overwrite", "replace the output if it exists");
  AddFlag("--quiet", "no progress on stderr");
}

const ArgParser::Spec& ArgParser::Find(const std::string& name) const {
  for (const Spec& spec : specs_) {
    if (spec.name == name) return spec;
  }
  throw InternalError("ArgParser: option '" + name + "' was never declared");
}

bool ArgParser::Parse(const std::vector<std::string>& args) {
  size_t positional_index = 0;
  std::vector<const Spec*> positionals;
  for (const Spec& spec : specs_) {
    if (spec.positional) positionals.push_back(&spec);
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(Help().c_str(), stdout);
      return false;
    }
    if (arg == "-o") arg = "--output";
    if (arg.size() > 1 && arg[0] == '-' &&
        !(arg.size() > 1 && (std::isdigit(static_cast<unsigned char>(arg[1])) ||
                             arg[1] == '.'))) {
      std::string value_inline;
      const auto eq = arg.find('=');
      bool has_inline = false;
      if (eq != std::string::npos) {
        value_inline = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
      const Spec* spec = nullptr;
      for (const Spec& candidate : specs_) {
        if (!candidate.positional && candidate.name == arg) spec = &candidate;
      }
      if (spec == nullptr) {
        throw UsageError(program_ + ": unknown option '" + arg +
                         "' (see --help)");
      }
      std::vector<std::string>& values = values_[spec->name];
      values.clear();
      if (spec->nargs == 0) {
        if (has_inline) {
          throw UsageError(program_ + ": option " + arg + " takes no value");
        }
        values.push_back("1");
        continue;
      }
      if (has_inline) {
        if (spec->nargs != 1) {
          throw UsageError(program_ + ": option " + arg + " takes " +
                           std::to_string(spec->nargs) + " values");
        }
        values.push_back(value_inline);
        continue;
      }
      for (int k = 0; k < spec->nargs; ++k) {
        if (i + 1 >= args.size()) {
          throw UsageError(program_ + ": option " + arg + " needs " +
                           std::to_string(spec->nargs) +
                           " value(s): " + spec->metavar);
        }
        values.push_back(args[++i]);
      }
      continue;
    }
    if (positional_index >= positionals.size()) {
      // A last positional named "X..." takes every further argument.
      const std::string& last =
          positionals.empty() ? std::string() : positionals.back()->name;
      if (last.size() > 3 && last.compare(last.size() - 3, 3, "...") == 0) {
        values_[last].push_back(arg);
        continue;
      }
      throw UsageError(program_ + ": unexpected argument '" + arg +
                       "' (see --help)");
    }
    values_[positionals[positional_index++]->name] = {arg};
  }
  if (positional_index < positionals.size()) {
    throw UsageError(program_ + ": missing " +
                     positionals[positional_index]->name + " (see --help)");
  }
  return true;
}

std::string ArgParser::Help() const {
  std::ostringstream out;
  out << "usage: " << program_;
  for (const Spec& spec : specs_) {
    if (spec.positional) out << " " << spec.name;
  }
  out << " [options]\n\n" << summary_ << "\n";
  bool any_positional = false;
  for (const Spec& spec : specs_) any_positional |= spec.positional;
  if (any_positional) {
    out << "\narguments:\n";
    for (const Spec& spec : specs_) {
      if (!spec.positional) continue;
      char line[256];
      std::snprintf(line,
                    sizeof(line),
                    "  %-26s %s\n",
                    spec.name.c_str(),
                    spec.help.c_str());
      out << line;
    }
  }
  out << "\noptions:\n";
  for (const Spec& spec : specs_) {
    if (spec.positional) continue;
    std::string left = spec.name;
    if (spec.name == "--output") left = "-o, --output";
    if (spec.name == "--help") left = "-h, --help";
    if (!spec.metavar.empty()) left += " " + spec.metavar;
    std::string help = spec.help;
    if (!spec.default_value.empty()) {
      help += " (default: " + spec.default_value + ")";
    }
    char line[512];
    if (left.size() > 26) {
      std::snprintf(line,
                    sizeof(line),
                    "  %s\n  %-26s %s\n",
                    left.c_str(),
                    "",
                    help.c_str());
    } else {
      std::snprintf(
          line, sizeof(line), "  %-26s %s\n", left.c_str(), help.c_str());
    }
    out << line;
  }
  if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
  return out.str();
}

bool ArgParser::Has(const std::string& name) const {
  const Spec& spec = Find(name);
  return values_.count(name) > 0 || !spec.default_value.empty();
}

bool ArgParser::Given(const std::string& name) const {
  Find(name);
  return values_.count(name) > 0;
}

std::string ArgParser::Get(const std::string& name) const {
  const Spec& spec = Find(name);
  const auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.front();
  if (!spec.default_value.empty()) return spec.default_value;
  throw UsageError(program_ + ": " + name + " is required (see --help)");
}

std::vector<std::string> ArgParser::GetAll(const std::string& name) const {
  Find(name);
  const auto it = values_.find(name);
  if (it == values_.end()) {
    throw UsageError(program_ + ": " + name + " is required (see --help)");
  }
  return it->second;
}

double ArgParser::ParseDouble(const std::string& name,
                              const std::string& text) const {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0 ||
      !std::isfinite(value)) {
    throw UsageError(program_ + ": " + name + " = '" + text +
                     "'; must be a finite number");
  }
  return value;
}

int64_t ArgParser::ParseInt(const std::string& name,
                            const std::string& text) const {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0) {
    throw UsageError(program_ + ": " + name + " = '" + text +
                     "'; must be an integer");
  }
  return value;
}

int64_t ArgParser::GetInt(const std::string& name) const {
  return ParseInt(name, Get(name));
}

double ArgParser::GetDouble(const std::string& name) const {
  return ParseDouble(name, Get(name));
}

std::optional<double> ArgParser::GetOptionalDouble(
    const std::string& name) const {
  if (!Has(name)) return std::nullopt;
  return GetDouble(name);
}

bool ArgParser::Flag(const std::string& name) const {
  Find(name);
  return values_.count(name) > 0;
}

FrameRange FrameRange::FromArgs(const ArgParser& args) {
  FrameRange range;
  range.start = args.GetInt("--start");
  if (args.Has("--end")) range.end = args.GetInt("--end");
  range.every = args.GetInt("--every");
  if (range.start < 0) {
    throw UsageError("--start = " + std::to_string(range.start) +
                     "; must be >= 0");
  }
  if (range.every < 1) {
    throw UsageError("--every = " + std::to_string(range.every) +
                     "; must be >= 1");
  }
  if (range.end != -1 && range.end <= range.start) {
    throw UsageError("--end = " + std::to_string(range.end) +
                     "; must be > --start (" + std::to_string(range.start) +
                     ")");
  }
  return range;
}

void InstallInterruptHandler() {
  // SIGTERM (a scheduler, `kill`) stops the work as Ctrl-C does, so a run
  // stops its Blender child and removes its temporary files.
  std::signal(SIGINT, OnSigint);
  std::signal(SIGTERM, OnSigint);
}

bool Interrupted() {
  return g_interrupted.load();
}

ProgressCallback CliProgress(bool quiet) {
  ProgressCallback print = quiet ? ProgressCallback() : StderrProgress();
  return [print](const Progress& progress) {
    if (print) print(progress);
    return !Interrupted();
  };
}

}  // namespace vanelia::cli
