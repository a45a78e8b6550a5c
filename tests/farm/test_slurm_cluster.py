"""slurm_cluster.SlurmCluster against the real daemons: the Slurm behaviour that
`vanelia farm` relies on (sbatch --parsable, afterok dependencies, job arrays, scancel of one
array task and its resubmission alone), and a teardown that leaves no process behind.

Run: /usr/bin/python3 -m pytest -q tests/farm/test_slurm_cluster.py (as root; slurm-wlm and
munge from native/scripts/install_deps.sh). sacct needs slurmdbd, so states come from
`scontrol show job` through SlurmCluster.job_states().
"""

import os
import subprocess
import sys
import time

import pytest

from slurm_cluster import SlurmCluster, cluster_processes

HERE = os.path.dirname(os.path.abspath(__file__))


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def assert_nothing_left(folder, conf_path):
    """No daemon mentions `folder` on its command line, and no process (slurmstepd, job)
    carries the cluster's SLURM_CONF or marker in its environment."""
    pgrep = subprocess.run(["pgrep", "-a", "-f", str(folder)], capture_output=True, text=True)
    assert pgrep.stdout == "", f"processes left behind:\n{pgrep.stdout}"
    assert cluster_processes(conf_path) == []


def write_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\nset -e\n" + body)
    return str(path)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    with SlurmCluster(folder) as c:
        yield c
    assert_nothing_left(folder, c.conf_path)


def test_cluster_has_one_idle_node_with_this_machines_cpus(cluster):
    assert cluster.node_state() == "idle"
    out = cluster.run("scontrol", "-o", "show", "node", cluster.node).stdout
    assert f"CPUTot={cluster.cpus} " in out
    assert cluster.cpus == len(os.sched_getaffinity(0))
    assert os.environ.get("SLURM_CONF") != cluster.conf_path  # env() does not leak
    assert cluster.env()["SLURM_CONF"] == cluster.conf_path


def test_array_waits_for_afterok_dependency_then_runs_every_task(cluster, tmp_path):
    first = cluster.sbatch(
        "-o",
        str(tmp_path / "first.log"),
        write_script(tmp_path / "first.sh", f"sleep 3\necho done > {tmp_path}/first.txt\n"),
    )
    assert first.isdigit()
    task = (
        f"test -f {tmp_path}/first.txt\n"
        f"echo $SLURM_ARRAY_JOB_ID > {tmp_path}/task_$SLURM_ARRAY_TASK_ID.txt\n"
    )
    array = cluster.sbatch(
        "--array=0-2",
        f"--dependency=afterok:{first}",
        "-o",
        str(tmp_path / "task_%a.log"),
        write_script(tmp_path / "task.sh", task),
    )
    assert array.isdigit() and int(array) > int(first)
    # scontrol names the pending array record ID_0-2; its Reason is set by the next pass.
    pending = {f"{array}_0-2": "PENDING Dependency"}
    wait_for(lambda: cluster.job_states(array) == pending, 5, f"states {pending}")
    assert not (tmp_path / "first.txt").exists()

    cluster.wait_until_empty(timeout_s=30)
    for k in range(3):
        assert (tmp_path / f"task_{k}.txt").read_text().strip() == array
    states = cluster.job_states(array)
    assert states == {f"{array}_{k}": "COMPLETED" for k in range(3)}, states
    assert cluster.job_states(first) == {first: "COMPLETED"}


def test_afterok_on_a_failed_job_is_never_satisfied(cluster, tmp_path):
    failing = cluster.sbatch("-o", "/dev/null", "--wrap", "exit 3")
    dependent = cluster.sbatch(
        f"--dependency=afterok:{failing}",
        "-o",
        "/dev/null",
        "--wrap",
        f"touch {tmp_path}/should_not_exist",
    )
    wait_for(
        lambda: cluster.job_states(dependent)[dependent] == "PENDING DependencyNeverSatisfied",
        15,
        "DependencyNeverSatisfied",
    )
    assert cluster.job_states(failing) == {failing: "FAILED NonZeroExitCode"}
    cluster.run("scancel", dependent)
    wait_for(lambda: not cluster.queue(), 15, "an empty queue")
    assert cluster.job_states(dependent)[dependent].startswith("CANCELLED")
    assert not (tmp_path / "should_not_exist").exists()


def test_cancelled_array_task_can_be_resubmitted_alone(cluster, tmp_path):
    # Task 1 blocks until RETRY is set; 0 and 2 finish at once.
    body = (
        'if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && [ -z "$RETRY" ]; then sleep 300; fi\n'
        f"echo $SLURM_ARRAY_JOB_ID > {tmp_path}/c_$SLURM_ARRAY_TASK_ID.txt\n"
    )
    script = write_script(tmp_path / "chunk.sh", body)
    array = cluster.sbatch("--array=0-2", "-o", "/dev/null", script)
    expected = {f"{array}_0": "COMPLETED", f"{array}_1": "RUNNING", f"{array}_2": "COMPLETED"}
    wait_for(lambda: cluster.job_states(array) == expected, 20, f"states {expected}")

    cluster.run("scancel", f"{array}_1")
    wait_for(lambda: not cluster.queue(), 15, "an empty queue")
    assert cluster.job_states(f"{array}_1") == {f"{array}_1": "CANCELLED"}
    assert not (tmp_path / "c_1.txt").exists()

    retry = cluster.sbatch("--array=1", "--export=ALL,RETRY=1", "-o", "/dev/null", script)
    cluster.wait_until_empty(timeout_s=20)
    assert cluster.job_states(retry) == {f"{retry}_1": "COMPLETED"}
    assert (tmp_path / "c_1.txt").read_text().strip() == retry
    assert cluster.job_states(array)[f"{array}_1"] == "CANCELLED"


def test_exit_with_a_running_job_leaves_no_process(tmp_path):
    with SlurmCluster(tmp_path / "slurm") as c:
        job = c.sbatch("-o", "/dev/null", "--wrap", "sleep 300")
        wait_for(lambda: c.job_states(job) == {job: "RUNNING"}, 15, "a running job")
        running = cluster_processes(c.conf_path)
        assert len(running) >= 5  # 3 daemons (+ their reapers), slurmstepd, the job
    assert_nothing_left(tmp_path / "slurm", c.conf_path)
    for pid in running:
        assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} survived (zombie or alive)"


def test_cli_runs_a_command_inside_the_cluster_and_returns_its_status(tmp_path):
    folder = tmp_path / "slurm"
    command = 'test "$(sinfo -h -o %T)" = idle && sbatch --parsable --wrap true && exit 7'
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "slurm_cluster.py"), str(folder), "--"]
        + ["sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.strip() == "1"
    assert "slurm_cluster: up in" in proc.stderr
    assert_nothing_left(folder, str(folder / "slurm.conf"))
