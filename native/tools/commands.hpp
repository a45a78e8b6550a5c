// The subcommand table of the `vanelia` CLI. Each subcommand lives in
// cmd_<name>.cpp, parses its own options with cli::ArgParser and returns an
// exit code (errors are thrown and mapped to exit codes by main).
#pragma once

#include <string>
#include <vector>

namespace vanelia::cli {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

// The commands compiled into this build, in the order `--help` lists them.
const std::vector<Command>& Commands();

int RunInfo(const Args& args);
int RunEncode(const Args& args);
int RunProxy(const Args& args);
int RunImportTrack(const Args& args);
int RunTrack(const Args& args);
int RunAlign(const Args& args);
int RunRun(const Args& args);
int RunFarm(const Args& args);
int RunExport(const Args& args);
int RunCall(const Args& args);

}  // namespace vanelia::cli
