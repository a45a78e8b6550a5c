#include "vanelia/pipeline/blender_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vanelia {
namespace {

bool IsFile(const std::string& path) {
  struct stat st {};

  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsExecutable(const std::string& path) {
  return IsFile(path) && access(path.c_str(), X_OK) == 0;
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string ExecutablePath() {
  std::vector<char> buffer(4096);
  const ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size());
  return n > 0 ? std::string(buffer.data(), static_cast<size_t>(n)) : "";
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = dirs.substr(begin, end - begin);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (IsExecutable(candidate)) return candidate;
    begin = end + 1;
  }
  return "";
}

// Starts argv in a new process group, stdout to `log_path`, stderr to a
// pipe; returns the child's pid and sets `*stderr_fd`.
pid_t StartChild(const std::vector<std::string>& argv,
                 const std::string& log_path,
                 int* stderr_fd) {
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) {
    throw InternalError(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    throw InternalError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    if (std::freopen(log_path.c_str(), "w", stdout) == nullptr) _exit(127);
    execv(c_argv[0], c_argv.data());
    std::fprintf(
        stderr, "vanelia: cannot run '%s': %s\n", c_argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no race with the child's own call
  close(fds[1]);
  *stderr_fd = fds[0];
  return pid;
}

// One line of Blender's stderr as an event: batch.py's JSON progress and
// messages keep their type, anything else is a log line.
RunEvent EventOfLine(const std::string& line) {
  RunEvent event;
  event.type = RunEventType::kLog;
  event.text = line;
  if (line.empty() || line[0] != '{') return event;
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("type")) return event;
  const std::string type = j.value("type", "");
  if (type == "progress") {
    event.type = RunEventType::kProgress;
    event.step = j.value("step", "render");
    event.done = j.value("done", int64_t{0});
    event.total = j.value("total", int64_t{0});
    event.eta_s = j.value("eta_s", -1.0);
    event.rate_per_s = j.value("rate_per_s", 0.0);
    event.text = j.value("text", "");
  } else if (type == "message") {
    event.type = RunEventType::kMessage;
    event.text = j.value("text", "");
  }
  return event;
}

// Waits up to `seconds` for the child; true (and `*status` set) once reaped.
bool WaitFor(pid_t pid, double seconds, int* status) {
  for (int i = 0; i * 0.05 < seconds; ++i) {
    if (waitpid(pid, status, WNOHANG) == pid) return true;
    usleep(50000);
  }
  return false;
}

// Whether the log has Blender's banner, "Blender <digit>...", on a line of
// its own: first in 3.x; Blender 4.x writes it through a block-buffered
// stdout, so into a pipe it can come after the script's own lines.
bool HasBanner(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 8 && line.compare(0, 8, "Blender ") == 0 &&
        std::isdigit(static_cast<unsigned char>(line[8]))) {
      return true;
    }
  }
  return false;
}

// Stops the child's group: SIGINT (Blender's own stop), SIGTERM after a
// second's grace, SIGKILL after five more; reaps the child.
int StopChild(pid_t pid) {
  int status = 0;
  kill(-pid, SIGINT);
  if (WaitFor(pid, 1.0, &status)) return status;
  kill(-pid, SIGTERM);
  if (WaitFor(pid, 5.0, &status)) return status;
  kill(-pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Forwards one line of the child's stderr, keeping batch.py's error line
// for the caller instead.
void ForwardLine(const std::string& line,
                 RunReporter* reporter,
                 std::string* error) {
  for (const char* prefix : {"vanelia: error: ", "vanelia: internal error: "}) {
    if (line.rfind(prefix, 0) == 0) {
      *error = line.substr(std::strlen(prefix));
      return;
    }
  }
  reporter->Forward(EventOfLine(line));
}

// Reads the child's stderr until it closes, forwarding each line; returns
// false when a stop was requested first.
bool ForwardLines(int fd, RunReporter* reporter, std::string* error) {
  std::string pending;
  char buffer[4096];
  while (true) {
    if (reporter->StopRequested()) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      ForwardLine(pending.substr(0, newline), reporter, error);
      pending.erase(0, newline + 1);
    }
  }
  if (!pending.empty()) ForwardLine(pending, reporter, error);
  return true;
}

// Removes the script's temporary outputs OUTPUT.tmp-<pid>.* (whatever
// extension the script gave them).
void RemoveTemporaries(const std::string& output, pid_t pid) {
  namespace fs = std::filesystem;
  const fs::path path(output);
  const std::string prefix =
      path.filename().string() + ".tmp-" + std::to_string(pid) + ".";
  const fs::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    if (it->path().filename().string().rfind(prefix, 0) == 0) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

}  // namespace

std::string FindBlender(const std::string& given, const std::string& option) {
  if (!given.empty()) {
    if (!IsExecutable(given)) {
      throw InputError(option + " '" + given + "': not an executable file");
    }
    return given;
  }
  if (const char* env = std::getenv("VANELIA_BLENDER"); env && *env) {
    if (!IsExecutable(env)) {
      throw InputError(std::string("$VANELIA_BLENDER '") + env +
                       "': not an executable file");
    }
    return env;
  }
  const std::string found = FindOnPath("blender");
  if (found.empty()) {
    throw InputError(
        "Blender not found: install it (apt-get install blender), put it on "
        "PATH, set $VANELIA_BLENDER or pass " +
        option + " PATH");
  }
  return found;
}

std::string FindAddon(const std::string& given) {
  const std::string batch = "/vanelia_blender/batch.py";
  if (!given.empty()) {
    if (!IsFile(given + batch)) {
      throw InputError("add-on folder '" + given +
                       "': has no vanelia_blender/batch.py");
    }
    return given;
  }
  if (const char* env = std::getenv("VANELIA_ADDON_DIR"); env && *env) {
    if (!IsFile(env + batch)) {
      throw InputError(std::string("$VANELIA_ADDON_DIR '") + env +
                       "': has no vanelia_blender/batch.py");
    }
    return env;
  }
  std::vector<std::string> candidates;
  const std::string exe = ExecutablePath();
  if (!exe.empty()) {
    candidates.push_back(Dirname(Dirname(exe)) + "/share/vanelia/addon");
  }
  candidates.emplace_back(VANELIA_SOURCE_ROOT "/addon");
  for (const std::string& dir : candidates) {
    if (IsFile(dir + batch)) return dir;
  }
  throw InputError(
      "add-on not found (looked in <exe>/../share/vanelia/addon and " +
      std::string(VANELIA_SOURCE_ROOT) + "/addon); set $VANELIA_ADDON_DIR");
}

BlenderRun RunBlender(const BlenderJob& job, RunReporter* reporter) {
  std::vector<std::string> argv = {job.blender,
                                   "-b",
                                   "--factory-startup",
                                   "--python",
                                   job.addon + "/" + job.script,
                                   "--"};
  argv.insert(argv.end(), job.args.begin(), job.args.end());
  int fd = -1;
  const pid_t pid = StartChild(argv, job.log_path, &fd);
  BlenderRun run;
  const bool finished = ForwardLines(fd, reporter, &run.error);
  close(fd);
  int status = 0;
  if (!finished) {
    StopChild(pid);
    RemoveTemporaries(job.output, pid);
    if (job.output_is_new) std::remove(job.output.c_str());
    throw Cancelled("Blender stopped, nothing written");
  }
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw InternalError(std::string("waitpid: ") + std::strerror(errno));
    }
  }
  run.exit_code =
      WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  run.printed_banner = HasBanner(job.log_path);
  return run;
}

void RunBlenderScript(const BlenderJob& job, RunReporter* reporter) {
  const BlenderRun run = RunBlender(job, reporter);
  if (!run.printed_banner) {
    // Blender prints its banner first: anything else is not Blender.
    throw InputError(
        "--blender '" + job.blender + "': not Blender (it exited " +
        std::to_string(run.exit_code) + " without printing Blender's banner)");
  }
  if (run.exit_code == 2) {
    throw InputError(run.error.empty()
                         ? "Blender's " + job.script +
                               " refused its input (exit 2); its output "
                               "ends:\n" +
                               LogTail(job.log_path)
                         : run.error);
  }
  if (run.exit_code == 130) throw Cancelled("interrupted");
  if (run.exit_code != 0) {
    throw InternalError("Blender exited with " + std::to_string(run.exit_code) +
                        (run.error.empty() ? "" : ": " + run.error) +
                        "; its output ends:\n" + LogTail(job.log_path));
  }
}

std::string LogTail(const std::string& path, size_t max_bytes) {
  std::string text;
  try {
    text = ReadFile(path);
  } catch (const Error&) {
    return "";
  }
  if (text.size() > max_bytes) {
    text = "..." + text.substr(text.size() - max_bytes);
  }
  return text;
}

}  // namespace vanelia
