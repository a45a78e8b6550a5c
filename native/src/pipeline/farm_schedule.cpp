// The farm's backends (farm.hpp): Slurm, through its own `sbatch`, and a
// local pool of `vanelia farm step` processes.
#include "vanelia/core/error.hpp"
#include "vanelia/pipeline/farm.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vanelia {
namespace {

// One step of one job, and what it waits for.
struct Task {
  const FarmJob* job = nullptr;
  FarmStep step = FarmStep::kTrack;
  int64_t chunk = -1;
  std::vector<size_t> after;  // tasks that must succeed first

  std::string Label() const {
    std::string label = job->name + " " + FarmStepName(step);
    if (step == FarmStep::kRender) label += " " + std::to_string(chunk);
    return label;
  }

  std::string LogName() const {
    std::string name = FarmStepName(step);
    if (step == FarmStep::kRender) name += "-" + std::to_string(chunk);
    return job->dir + "/logs/" + name + ".log";
  }
};

// The tasks each job still needs, in dependency order.
std::vector<Task> PlanTasks(const std::vector<FarmJob>& jobs) {
  std::vector<Task> tasks;
  for (const FarmJob& job : jobs) {
    const FarmStatus status = ReadFarmStatus(job);
    if (status.merged) continue;
    std::vector<size_t> previous;
    auto add = [&](FarmStep step, int64_t chunk, std::vector<size_t> after) {
      tasks.push_back({&job, step, chunk, std::move(after)});
      return tasks.size() - 1;
    };
    if (!status.tracked) previous = {add(FarmStep::kTrack, -1, {})};
    if (!status.built) previous = {add(FarmStep::kBuild, -1, previous)};
    std::vector<size_t> renders;
    for (size_t c = 0; c < status.chunk_done.size(); ++c) {
      if (!status.chunk_done[c]) {
        renders.push_back(
            add(FarmStep::kRender, static_cast<int64_t>(c), previous));
      }
    }
    if (!renders.empty()) previous = renders;
    add(FarmStep::kMerge, -1, previous);
  }
  return tasks;
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::vector<std::string> StepArgv(const Task& task) {
  std::vector<std::string> argv = {task.job->vanelia,
                                   "farm",
                                   "step",
                                   FarmStepName(task.step),
                                   "--job",
                                   task.job->dir};
  if (task.step == FarmStep::kRender) {
    argv.insert(argv.end(), {"--chunk", std::to_string(task.chunk)});
  }
  return argv;
}

// Runs `command` with the shell; returns its stdout, InputError on failure.
std::string RunCapture(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    throw InputError("cannot run '" + command + "': " + std::strerror(errno));
  }
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
    output.pop_back();
  }
  if (status != 0) {
    throw InputError("sbatch failed (" + command + "): " + output);
  }
  return output;
}

// "12" from sbatch --parsable's "12" or "12;cluster".
std::string ParsableId(const std::string& output) {
  const std::string line = output.substr(output.rfind('\n') + 1);
  const std::string id = line.substr(0, line.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError("sbatch printed no job id: " + output);
  }
  return id;
}

// A running local step.
struct Running {
  size_t task = 0;
  pid_t pid = 0;
  std::chrono::steady_clock::time_point started;
};

pid_t SpawnStep(const Task& task) {
  const std::vector<std::string> argv = StepArgv(task);
  const std::string log = task.LogName();
  const pid_t pid = fork();
  if (pid < 0)
    throw InternalError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);  // its own group: a stop reaches its Blender too
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> args;
    for (const std::string& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

// Stops every running step's group (SIGINT, then SIGKILL after 10 s) and
// reaps them.
void StopAll(const std::vector<Running>& running) {
  for (const Running& r : running) kill(-r.pid, SIGINT);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const Running& r : running) {
    int status = 0;
    while (waitpid(r.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(-r.pid, SIGKILL);
        waitpid(r.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

// The last line of a step's log, for the failure report.
std::string LastLine(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return "";
  std::string last;
  char buffer[1024];
  while (std::fgets(buffer, sizeof(buffer), file) != nullptr) {
    std::string line = buffer;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.pop_back();
    }
    if (!line.empty()) last = line;
  }
  std::fclose(file);
  return last;
}

// " in 6.0 s; 3 of 6 steps done, about 14 s left" (ETA from the mean).
std::string CountLine(double took,
                      int64_t finished,
                      size_t total,
                      std::chrono::steady_clock::time_point begin) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
          .count();
  const double eta =
      elapsed / static_cast<double>(finished) *
      (static_cast<double>(total) - static_cast<double>(finished));
  char line[256];
  std::snprintf(line,
                sizeof(line),
                " in %.1f s; %lld of %zu steps done, about %.0f s left",
                took,
                static_cast<long long>(finished),
                total,
                eta);
  return line;
}

}  // namespace

int64_t RunFarmLocally(const std::vector<FarmJob>& jobs,
                       const FarmSchedule& schedule,
                       const std::function<void(const std::string&)>& say,
                       const std::function<bool()>& stop) {
  const std::vector<Task> tasks = PlanTasks(jobs);

  enum State { kWaiting, kRunning, kDone, kFailed };

  std::vector<State> state(tasks.size(), kWaiting);
  std::vector<Running> running;
  const auto begin = std::chrono::steady_clock::now();
  int64_t finished = 0;
  int64_t failed = 0;
  const int64_t slots = std::max<int64_t>(1, schedule.processes);
  say(std::to_string(tasks.size()) + " steps to run, " + std::to_string(slots) +
      " at a time");
  while (finished < static_cast<int64_t>(tasks.size())) {
    if (stop && stop()) {
      StopAll(running);
      throw Cancelled("interrupted");
    }
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (state[i] != kWaiting) continue;
      bool ready = true;
      bool blocked = false;
      for (size_t after : tasks[i].after) {
        ready = ready && state[after] == kDone;
        blocked = blocked || state[after] == kFailed;
      }
      if (blocked) {
        state[i] = kFailed;
        ++finished;
        ++failed;
        say(tasks[i].Label() + ": skipped (a step it needs failed)");
      } else if (ready && static_cast<int64_t>(running.size()) < slots) {
        running.push_back(
            {i, SpawnStep(tasks[i]), std::chrono::steady_clock::now()});
        state[i] = kRunning;
      }
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const auto it =
        std::find_if(running.begin(), running.end(), [pid](const Running& r) {
          return r.pid == pid;
        });
    if (it == running.end()) continue;
    const Task& task = tasks[it->task];
    const double took = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - it->started)
                            .count();
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    state[it->task] = ok ? kDone : kFailed;
    running.erase(it);
    ++finished;
    const std::string line = CountLine(took, finished, tasks.size(), begin);
    if (ok) {
      say(task.Label() + ": done" + line);
    } else {
      ++failed;
      say(task.Label() + ": FAILED (" + LastLine(task.LogName()) + "; log " +
          task.LogName() + ")" + line);
    }
  }
  return failed;
}

std::vector<std::string> SubmitToSlurm(const std::vector<FarmJob>& jobs,
                                       const FarmSchedule& schedule) {
  const std::vector<Task> tasks = PlanTasks(jobs);
  std::vector<std::string> lines;
  std::map<const FarmJob*, std::string> report;
  std::vector<std::string> ids(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Task& task = tasks[i];
    if (!ids[i].empty()) continue;  // submitted with its array
    std::string command = ShellQuote(schedule.sbatch) + " --parsable";
    for (const std::string& option : schedule.sbatch_options) {
      command += " " + ShellQuote(option);
    }
    command += " --job-name " +
               ShellQuote("vanelia-" + std::string(FarmStepName(task.step)) +
                          "-" + task.job->name);
    std::vector<std::string> waits;
    for (size_t after : task.after) {
      if (std::find(waits.begin(), waits.end(), ids[after]) == waits.end()) {
        waits.push_back(ids[after]);
      }
    }
    std::string dependency;
    for (const std::string& id : waits) dependency += ":" + id;
    if (!dependency.empty()) {
      // A failed or cancelled step cancels what waits for it (Slurm would
      // otherwise keep it pending forever); submitting again resumes.
      command +=
          " --dependency=afterok" + dependency + " --kill-on-invalid-dep=yes";
    }
    std::vector<std::string> argv = StepArgv(task);
    std::vector<size_t> members = {i};
    if (task.step == FarmStep::kRender) {
      // One array for the job's missing chunks; each task its own chunk.
      std::string array;
      for (size_t j = i; j < tasks.size() && tasks[j].job == task.job &&
                         tasks[j].step == FarmStep::kRender;
           ++j) {
        array += (array.empty() ? "" : ",") + std::to_string(tasks[j].chunk);
        if (j > i) members.push_back(j);
      }
      command += " --array=" + array + " --output " +
                 ShellQuote(task.job->dir + "/logs/render-%a-%A.log");
      argv.resize(argv.size() - 1);  // the chunk comes from Slurm
    } else {
      command += " --output " + ShellQuote(task.job->dir + "/logs/" +
                                           FarmStepName(task.step) + "-%j.log");
    }
    std::string wrap = "exec";
    for (const std::string& arg : argv) wrap += " " + ShellQuote(arg);
    if (task.step == FarmStep::kRender) wrap += " \"$SLURM_ARRAY_TASK_ID\"";
    command += " --wrap " + ShellQuote(wrap);
    const std::string id = ParsableId(RunCapture(command));
    for (size_t member : members) ids[member] = id;
    std::string& text = report[task.job];
    text += (text.empty() ? "" : ", ") + std::string(FarmStepName(task.step));
    if (task.step == FarmStep::kRender) {
      text += " (" + std::to_string(members.size()) + " chunks)";
    }
    text += " " + id;
  }
  for (const FarmJob& job : jobs) {
    const auto it = report.find(&job);
    lines.push_back(job.name + ": " +
                    (it == report.end()
                         ? "done already (" + job.options.output + ")"
                         : "submitted " + it->second));
  }
  return lines;
}

}  // namespace vanelia
