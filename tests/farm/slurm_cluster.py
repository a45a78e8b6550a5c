"""A real single-node Slurm cluster (munged + slurmctld + slurmd) for tests and benchmarks.

`SlurmCluster(folder)` is a context manager. On entry it writes a munge key and a slurm.conf
into `folder`, starts munged with its own key and socket, then slurmctld and slurmd on this
host (the node is `hostname -s` at 127.0.0.1, with the CPUs this process may use and the
memory of /proc/meminfo less a margin), and waits until `sinfo` reports the node idle. On
exit it cancels every job, stops the daemons and kills whatever they left behind (slurmstepd
and job processes, found by a marker in their environment), so no process outlives it.

Clients (sbatch, squeue, scontrol, scancel) need only SLURM_CONF: slurm.conf names the munge
socket in AuthInfo. `env()` returns that environment; `run()` and `sbatch()` use it.

Needs root (slurmd runs jobs as their owner) and Debian 12's slurm-wlm 22.05 and munge
(native/scripts/install_deps.sh installs them). Standard library only.

    with SlurmCluster(tmp_path / "slurm") as cluster:
        first = cluster.sbatch("--wrap", "echo hi")
        cluster.sbatch("--array=0-2", f"--dependency=afterok:{first}", "job.sh")
        cluster.wait_until_empty(timeout_s=30)

CLI, to run a command inside a started cluster (its exit status is returned):

    python3 tests/farm/slurm_cluster.py FOLDER -- COMMAND [ARGS...]
"""

import argparse
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import stat
import sys
import tempfile
import time

# Set in the environment of the daemons and of clients; whatever carries it belongs to us.
MARKER = "VANELIA_SLURM_CLUSTER"
DAEMONS = ("munged", "slurmctld", "slurmd")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class SlurmError(RuntimeError):
    """A daemon did not start, or a client command failed; the message names which and why."""


def _free_ports(count):
    """Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _real_memory_mb():
    """MemTotal of /proc/meminfo in MB less a margin (5 %, at least 512 MB), so that slurmd
    never finds less memory than configured (which would drain the node)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                total_mb = int(line.split()[1]) // 1024
                return max(1, total_mb - max(512, total_mb // 20))
    raise SlurmError("/proc/meminfo: no MemTotal line")


def _prctl(option, value):
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value})")


def _die_with_parent():
    """preexec_fn: the process gets SIGTERM if the process that started it dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _children():
    """Pids whose parent is this process (read from /proc/PID/stat)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def reap_main(argv):
    """`slurm_cluster.py --reap -- DAEMON ARGS...`: runs DAEMON as a child subreaper, so that
    every process it leaves (slurmd's slurmstepd daemonizes and is orphaned) becomes ours and
    is reaped at once instead of lingering as a zombie of PID 1. SIGTERM is forwarded to
    DAEMON; once DAEMON exits, every remaining descendant is SIGKILLed and reaped, and this
    process exits with DAEMON's status."""
    _die_with_parent()
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    main = {"pid": os.fork(), "status": 1}
    if main["pid"] == 0:
        try:
            _die_with_parent()
            os.execvp(argv[0], argv)
        except OSError as e:
            print(f"slurm_cluster --reap: cannot run {argv[0]}: {e}", file=sys.stderr)
        os._exit(127)
    signal.signal(signal.SIGTERM, lambda *_: _signal(main["pid"], signal.SIGTERM))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        if main["pid"] is None:
            for pid in _children():
                _signal(pid, signal.SIGKILL)
        try:
            pid, wait_status = os.waitpid(-1, 0)
        except ChildProcessError:
            return main["status"]
        if pid == main["pid"]:
            main.update(pid=None, status=os.waitstatus_to_exitcode(wait_status))


def _signal(pid, signum):
    if pid is None:
        return
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _ancestors():
    """This process and its ancestors: never killed, even if they carry the marker."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def cluster_processes(conf_path):
    """Pids of the processes that belong to the cluster of `conf_path`: those whose environment
    holds the marker or SLURM_CONF for it (daemons, slurmstepd, jobs), this process excepted."""
    wanted = {
        f"{MARKER}={conf_path}".encode(),
        f"SLURM_CONF={conf_path}".encode(),
    }
    mine, found = _ancestors(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if wanted.intersection(env):
            found.append(int(entry))
    return found


def _searchable_by_all(path):
    """True if `path` and every directory above it have the execute bit for others."""
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)\n"


class SlurmCluster:
    """A single-node Slurm cluster living in `folder` (see the module docstring).

    Attributes once started: folder, conf_path, munge_socket, node (the node name), cpus,
    memory_mb, ports (slurmctld, slurmd). Logs are in folder/log/.
    """

    def __init__(self, folder, cluster_name="vanelia-test", start_timeout_s=30.0):
        self.folder = os.path.abspath(os.fspath(folder))
        self.cluster_name = cluster_name
        self.start_timeout_s = start_timeout_s
        self.conf_path = os.path.join(self.folder, "slurm.conf")
        self.munge_dir = os.path.join(self.folder, "munge")
        self.munge_socket = os.path.join(self.munge_dir, "munge.socket")
        self.log_dir = os.path.join(self.folder, "log")
        self.node = socket.gethostname().split(".")[0]
        self.cpus = len(os.sched_getaffinity(0))
        self.memory_mb = _real_memory_mb()
        self.ports = (0, 0)
        self._procs = {}
        self._logs = []
        self._socket_dir = None

    # Lifecycle ------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        """Writes the configuration, starts the three daemons and waits for an idle node."""
        for tool in DAEMONS + ("sinfo", "sbatch", "squeue", "scancel", "scontrol"):
            if shutil.which(tool) is None:
                raise SlurmError(
                    f"'{tool}' not found on PATH; install slurm-wlm and munge "
                    "(bash native/scripts/install_deps.sh)"
                )
        if os.geteuid() != 0:
            raise SlurmError(f"SlurmCluster needs root (slurmd); euid is {os.geteuid()}")
        try:
            self._prepare_folder()
            self._place_munge_socket()
            self._write_munge_key()
            self._spawn("munged", self._munged_argv())
            self._wait_for(os.path.exists, self.munge_socket, "munged socket")
            self.ports = tuple(_free_ports(2))
            self._write_conf()
            self._spawn("slurmctld", ["slurmctld", "-D", "-f", self.conf_path])
            self._spawn("slurmd", ["slurmd", "-D", "-f", self.conf_path, "-N", self.node])
            self._wait_for(lambda _: self.node_state() == "idle", None, "node idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s=15.0):
        """Cancels all jobs, stops slurmd, slurmctld and munged, then kills any process that
        still carries the cluster's marker. Safe to call twice or after a failed start."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            self.run(
                "scancel", f"--user={pwd.getpwuid(os.geteuid()).pw_name}", check=False, timeout=10
            )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and self.queue(check=False):
                time.sleep(0.2)
        for name in ("slurmd", "slurmctld", "munged"):
            self._terminate(name)
        self._kill_leftovers()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        for log in self._logs:
            log.close()
        self._logs = []

    # Clients --------------------------------------------------------------------------------

    def env(self, base=None):
        """The environment for Slurm clients: `base` (default os.environ) plus SLURM_CONF and
        the cluster marker. Jobs submitted with it inherit the marker, so `stop()` can find
        their processes. The munge socket needs no variable: slurm.conf's AuthInfo names it."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = self.conf_path
        env[MARKER] = self.conf_path
        return env

    def run(self, *args, check=True, timeout=60, **kwargs):
        """Runs a client command (`args` as for subprocess) with env(); returns the
        CompletedProcess with text stdout/stderr. Raises SlurmError on a non-zero exit when
        `check`."""
        kwargs.setdefault("env", self.env())
        proc = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
        if check and proc.returncode != 0:
            raise SlurmError(
                f"{' '.join(args)}: exit status {proc.returncode}: {proc.stderr.strip()}"
            )
        return proc

    def sbatch(self, *args, **kwargs):
        """`sbatch --parsable ARGS...`; returns the job id (for an array, the array's id)."""
        return self.run("sbatch", "--parsable", *args, **kwargs).stdout.strip().split(";")[0]

    def queue(self, check=True):
        """Job ids (%i: 12, 13_[1-2], 13_0) that squeue lists: pending, running, completing."""
        proc = self.run("squeue", "-h", "-o", "%i", check=check, timeout=10)
        return proc.stdout.split() if proc.returncode == 0 else []

    def wait_until_empty(self, timeout_s=60.0, poll_s=0.2):
        """Waits until squeue lists no job; raises SlurmError naming those left at timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = self.queue()
            if not left:
                return
            if time.monotonic() > deadline:
                raise SlurmError(f"jobs still queued after {timeout_s} s: {left}")
            time.sleep(poll_s)

    def job_states(self, job_id):
        """{'ID' or 'ID_TASK': 'JobState[ Reason]'} for a job or array, from `scontrol show
        job -o` (sacct needs slurmdbd, which this cluster does not run). A job that finished
        stays visible for MinJobAge (300 s)."""
        out = self.run("scontrol", "-o", "show", "job", str(job_id), timeout=10).stdout
        states = {}
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            key = fields.get("ArrayJobId", fields.get("JobId", ""))
            if fields.get("ArrayTaskId"):
                key += "_" + fields["ArrayTaskId"]
            state = fields.get("JobState", "?")
            if fields.get("Reason", "None") != "None":
                state += " " + fields["Reason"]
            states[key] = state
        return states

    def node_state(self):
        """The node's state as sinfo prints it (idle, mixed, alloc, down*, ...), or '' when
        slurmctld does not answer."""
        proc = self.run("sinfo", "-h", "-n", self.node, "-o", "%T", check=False, timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    # Internals ------------------------------------------------------------------------------

    def _prepare_folder(self):
        os.makedirs(self.folder, exist_ok=True)
        # munged rejects a key or socket below a directory that others may write to.
        mode = os.stat(self.folder).st_mode & 0o7777
        if mode & 0o022:
            os.chmod(self.folder, mode & ~0o022)
        for sub in ("state", "spool"):
            shutil.rmtree(os.path.join(self.folder, sub), ignore_errors=True)
        for sub in ("state", "spool", "log", "run", "munge"):
            os.makedirs(os.path.join(self.folder, sub), exist_ok=True)
        # The socket's directory must be searchable by all; the key readable by root only.
        os.chmod(self.munge_dir, 0o755)
        with open(os.path.join(self.folder, "plugstack.conf"), "w") as f:
            f.write("# empty: keeps /etc/slurm/plugstack.conf.d out of this cluster\n")

    def _place_munge_socket(self):
        """munged wants every directory above its socket searchable by all users (pytest's
        tmp_path sits below a 0700 directory) and the path must fit a unix socket address:
        otherwise the socket goes to a private 0755 directory in /tmp, removed by stop()."""
        if len(self.munge_socket) <= 100 and _searchable_by_all(self.munge_dir):
            return
        self._socket_dir = tempfile.mkdtemp(prefix="vanelia-munge-")
        os.chmod(self._socket_dir, 0o755)
        self.munge_socket = os.path.join(self._socket_dir, "munge.socket")

    def _write_munge_key(self):
        """A fresh 1024-bit key, as `mungekey -c` or `dd if=/dev/urandom bs=128 count=1`."""
        path = os.path.join(self.munge_dir, "munge.key")
        if os.path.exists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(128))

    def _munged_argv(self):
        # In --foreground mode munged logs to stderr (redirected to log/munged.log), not to
        # --log-file, so that option is left out.
        d = self.munge_dir
        return [
            "munged",
            "--foreground",
            f"--key-file={d}/munge.key",
            f"--socket={self.munge_socket}",
            f"--pid-file={d}/munged.pid",
            f"--seed-file={d}/munged.seed",
        ]

    def _write_conf(self):
        f, node = self.folder, self.node
        lines = [
            f"ClusterName={self.cluster_name}",
            f"SlurmctldHost={node}(127.0.0.1)",
            f"SlurmctldPort={self.ports[0]}",
            f"SlurmdPort={self.ports[1]}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "MpiDefault=none",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            # bf_interval=1: pending jobs whose dependencies just cleared start within ~1 s.
            "SchedulerParameters=bf_interval=1",
            "ReturnToService=2",
            "MailProg=/bin/true",
            f"PlugStackConfig={f}/plugstack.conf",
            f"StateSaveLocation={f}/state",
            f"SlurmdSpoolDir={f}/spool",
            f"SlurmctldPidFile={f}/run/slurmctld.pid",
            f"SlurmdPidFile={f}/run/slurmd.pid",
            f"SlurmctldLogFile={f}/log/slurmctld.log",
            f"SlurmdLogFile={f}/log/slurmd.log",
            "SlurmctldTimeout=10",
            "SlurmdTimeout=10",
            "KillWait=2",
            "MinJobAge=300",
            "InactiveLimit=0",
            "Waittime=0",
            f"NodeName={node} NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.memory_mb} State=UNKNOWN",
            f"PartitionName=main Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        ]
        with open(self.conf_path, "w") as out:
            out.write("\n".join(lines) + "\n")

    def _spawn(self, name, argv):
        log = open(os.path.join(self.log_dir, f"{name}.stderr"), "ab")
        self._logs.append(log)
        self._procs[name] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--reap", "--", *argv],
            env=self.env(),
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def _wait_for(self, predicate, arg, what):
        deadline = time.monotonic() + self.start_timeout_s
        while not predicate(arg):
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmError(f"{name} exited ({proc.returncode}) " + self._diagnosis())
            if time.monotonic() > deadline:
                raise SlurmError(f"no {what} after {self.start_timeout_s} s " + self._diagnosis())
            time.sleep(0.1)

    def _diagnosis(self):
        parts = [f"in '{self.folder}'; the logs end with:"]
        for name in os.listdir(self.log_dir):
            parts.append(f"--- log/{name}\n{_tail(os.path.join(self.log_dir, name))}")
        return "\n".join(parts)

    def _terminate(self, name, timeout_s=10.0):
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _kill_leftovers(self, timeout_s=5.0):
        """SIGKILLs slurmstepd and job processes that outlived slurmd, then waits for them."""
        deadline = time.monotonic() + timeout_s
        pids = cluster_processes(self.conf_path)
        while pids and time.monotonic() < deadline:
            for pid in pids:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.05)
            pids = cluster_processes(self.conf_path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["--reap", "--"]:
        return reap_main(argv[2:])
    parser = argparse.ArgumentParser(
        description="Start a single-node Slurm cluster in FOLDER, run COMMAND with SLURM_CONF "
        "set, stop the cluster, and exit with COMMAND's status.",
        usage="%(prog)s FOLDER -- COMMAND [ARGS...]",
    )
    parser.add_argument("folder", help="where the configuration, state and logs go")
    parser.add_argument("command", nargs="+", help="the command to run inside the cluster")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that the cluster is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    try:
        with SlurmCluster(args.folder) as cluster:
            print(
                f"slurm_cluster: up in {time.monotonic() - started:.1f} s "
                f"(SLURM_CONF={cluster.conf_path}, node {cluster.node}, {cluster.cpus} CPUs)",
                file=sys.stderr,
            )
            status = subprocess.run(
                args.command, env=cluster.env(), check=False, preexec_fn=_die_with_parent
            ).returncode
    except SlurmError as e:
        print(f"slurm_cluster: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
