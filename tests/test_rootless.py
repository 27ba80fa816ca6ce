"""Rootless grading (issue 21, item 5): the sandbox's pid 1 holds nothing of the grader, and without
per-submission cgroups ``grade`` grades one submission at a time and says so in its first line.

The rootless cases run the sandbox as an ordinary user (uid 65534, ``setpriv``), as an instructor's own
account would; they need root to switch user, and are skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_sandbox import first_closed_ancestor, needs_sandbox

from autograder.commands import grade as grade_module
from autograder.coursedir.course import REPO_ROOT

SECRET = "planted-secret-7f3a"
MARKER = "\x1b[2JESCAPE-FROM-THE-SANDBOX"

PID1_PROBE = f'''
import json
def _try(f):
    try:
        return "ok: " + repr(f())[:300]
    except BaseException as e:
        return type(e).__name__ + ": " + str(e)[:200]
def _write():
    with open("/proc/1/fd/1", "w") as out:
        out.write({MARKER!r})
    return "written"
def _attach():
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, 1, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    os.waitpid(1, 0x40000000)
    libc.ptrace(17, 1, 0, 0)
    return "attached"
r = {{"environ": _try(lambda: open("/proc/1/environ", "rb").read().decode(errors="replace")),
      "ptrace": _try(_attach), "mem": _try(lambda: open("/proc/1/mem", "rb").close()),
      "fd1": _try(lambda: __import__("os").readlink("/proc/1/fd/1")),
      "write_fd1": _try(_write),
      "own_fd1": _try(lambda: __import__("os").readlink("/proc/self/fd/1"))}}
print("PROBE " + json.dumps(r))
'''


def _rootless(request_cleanup: list[Path], cells: list[str] | None, mode: str = "",
              limits: str = "") -> tuple[dict, str]:
    """Run ``cells`` in the sandbox as uid 65534 with a secret in the grader's environment; (result, its output).

    ``cells`` None: ``testkit.rootless_probe`` in ``mode`` instead (``--grade``: grade a small class;
    ``--beside``: two sandboxes side by side). ``limits``: ``BPC_SANDBOX_LIMITS``.
    """
    for needed in (Path(sys.prefix).resolve(), REPO_ROOT):  # what uid 65534 imports (the venv, testkit)
        closed = first_closed_ancestor(needed)
        assert closed is None, f"{closed} is not readable by other users: uid 65534 cannot import from {needed}"
    folder = Path(tempfile.mkdtemp(prefix="bpc-rootless-"))  # a parent 65534 can traverse
    request_cleanup.append(folder)
    (folder / "cells.json").write_text(json.dumps(cells or []))
    shutil.chown(folder, 65534, 65534)
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PGPASSWORD": SECRET, "TMPDIR": str(folder),
           "PYTHONPATH": str(REPO_ROOT), "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "BPC_SANDBOX_LIMITS": limits}
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all", sys.executable, "-m", "testkit.rootless_probe",
               *([mode, str(folder)] if cells is None else [str(folder), str(folder / "cells.json")])]
    interpreter = Path(sys.executable).resolve()
    if Path("/root") in interpreter.parents:  # a pyenv under /root (0700): show uid 65534 that folder only
        keep = Path("/root") / interpreter.relative_to("/root").parts[0]
        view = Path(tempfile.mkdtemp(prefix="bpc-rootview-"))
        request_cleanup.append(view)
        script = (f"mount --bind /root {view} && mount -t tmpfs -o mode=755,size=1m tmpfs /root && "
                  f"mkdir {keep} && mount --bind {view / keep.name} {keep} && exec \"$@\"")
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(folder), timeout=900)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, (run.stdout[-2000:], run.stderr[-3000:])
    return json.loads(line[len("RESULT "):]), run.stdout + run.stderr


@pytest.fixture
def folders():
    made: list[Path] = []
    yield made
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_pid_1_has_no_environment_and_no_host_output(folders):
    result, printed = _rootless(folders, [PID1_PROBE])
    assert result["error"] == "", result
    text = result["outputs"][0]
    probe = json.loads(next(ln for ln in text.splitlines() if ln.startswith("PROBE "))[len("PROBE "):])
    print(probe, result["cgroups"])
    assert SECRET not in probe["environ"] and "PGPASSWORD" not in probe["environ"], probe["environ"]
    assert "ESCAPE-FROM-THE-SANDBOX" not in result["log"] + printed  # /proc/1/fd/1 is not the grader's log
    assert probe["fd1"] in ("ok: '/dev/null'",) or not probe["fd1"].startswith("ok"), probe["fd1"]
    # pid 1 cannot be traced or read: bwrap was, as the user's own process; now it is a non-dumpable init
    assert "Operation not permitted" in probe["ptrace"] and probe["mem"].startswith("PermissionError"), probe


@pytest.mark.grading
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_grade_scores_writes_feedback_and_says_one_at_a_time(folders):
    """The issue saw no feedback page in rootless runs; graded here as uid 65534, each result has its page."""
    result, _ = _rootless(folders, None, "--grade")
    first = result["printed"][0]
    assert first.startswith("sandbox rootless") and "ONE submission at a time" in first, first
    assert "with 1 worker(s)" in result["printed"][1], result["printed"][1]
    assert len(result["results"]) == 2
    for r in result["results"]:
        assert r["status"].startswith("ok") and r["score"] == 3.0, r
        assert r["pages"] == ["double.html"], r


@pytest.mark.grading
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_sample_class_gets_a_feedback_page_per_submission(folders):
    """The issue's rootless runs wrote no feedback page; the real course's sample class, graded as uid 65534:
    the correct, partly wrong and blank submissions of 01-chain-rule each get their page."""
    result, _ = _rootless(folders, None, "--grade-sample")
    print(result)
    assert [r["student"] for r in result["results"]] == ["s01-correct", "s02-partly-wrong", "s03-blank"]
    for r in result["results"]:
        assert r["pages"] == ["chain-rule.html"], r
    scores = [r["score"] for r in result["results"]]
    assert scores[0] > scores[1] > scores[2] == 0, scores


@pytest.mark.grading  # releases a course with nbgrader: not the fast tier
def test_without_per_submission_cgroups_grade_runs_one_at_a_time(tmp_path, monkeypatch):
    """grade's first line says which limits hold, and that submissions are graded one at a time."""
    from autograder.commands.release import release
    from autograder.coursedir.course import CourseDir
    from testkit.pipeline_fixture import make_course_notebooks

    course = CourseDir.at(tmp_path / "course")
    release(course, make_course_notebooks(tmp_path), progress=lambda m: None)
    (course.submitted / "anna" / "01-double").mkdir(parents=True)
    seen: dict[str, int] = {}
    monkeypatch.setattr(grade_module, "sandbox_available", lambda: (True, ""))
    monkeypatch.setattr(grade_module, "sandbox_summary", lambda: "sandbox rootless; no per-submission cgroup limits")
    monkeypatch.setattr(grade_module, "parallel_bounded", lambda: False)
    monkeypatch.setattr(grade_module, "run_pool", lambda func, jobs, n, *a, **k: seen.update(workers=n))
    monkeypatch.setattr(grade_module, "update_record", lambda course, progress: [])
    printed: list[str] = []
    grade_module.grade(course, workers=4, progress=printed.append)
    assert seen["workers"] == 1
    assert printed[0].startswith("sandbox rootless; no per-submission cgroup limits")
    assert "ONE submission at a time" in printed[0]
    monkeypatch.setattr(grade_module, "parallel_bounded", lambda: True)
    grade_module.grade(course, workers=4, progress=printed.append)
    assert seen["workers"] == 4


# --- issue 21, item 5: the load cases, as an ordinary user -------------------------------------------------

WRITE_FOLDERS = '''
import json, os
from ipykernel.kernelapp import IPKernelApp
def fill(folder, total=2400 * 10**6, chunk=64 * 2**20):  # 2.4 GB in files of 64 MiB (the RLIMIT_FSIZE)
    written, block = 0, b"x" * chunk
    try:
        for i in range(total // chunk + 1):
            with open(os.path.join(folder, f"fill-{i}"), "wb") as out:
                written += out.write(block[: min(chunk, total - written)])
    except OSError as e:
        return [written, type(e).__name__]
    return [written, ""]
sockets = os.path.dirname(IPKernelApp.instance().ip)
report = {"sockets": fill(sockets), "cwd": fill(os.getcwd()), "tmp": fill("/tmp"), "shm": fill("/dev/shm")}
print("PROBE " + json.dumps(report))
'''


def _probe(result: dict, index: int = 0) -> dict:
    text = result["outputs"][index]
    return json.loads(next(ln for ln in text.splitlines() if ln.startswith("PROBE "))[len("PROBE "):])


@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_socket_folder_takes_nothing_and_each_tmpfs_is_bounded(folders):
    """2.4 GB written into the kernel's socket folder (a folder of the host's /dev/shm) is stopped: the folder
    is not in the kernel's view (its sockets are bound outside), and its own folders are tmpfs of 256 MiB."""
    result, _ = _rootless(folders, [WRITE_FOLDERS])
    assert result["error"] == "", result
    probe = _probe(result)
    print(probe)
    assert probe["sockets"][0] == 0 and probe["sockets"][1] in ("FileNotFoundError", "PermissionError"), probe
    for name in ("cwd", "tmp", "shm"):
        assert probe[name][0] <= 256 * 2**20 and probe[name][1] == "OSError", (name, probe)


CHILDREN = '''
import os, time
def children(n, size):
    r, w = os.pipe()
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            block = b"\\x01" * size  # written, so resident
            os.write(w, b"u")
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
    os.close(w)
    up, deadline = 0, time.time() + 20
    while up < n and time.time() < deadline and os.read(r, 1):
        up += 1
    time.sleep(2)  # all of them hold their memory together for 2 s
    alive = sum(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid in pids) if up == n else 0
    for pid in pids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return alive
'''


@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_four_children_of_700_mb_exceed_the_2_gib_submission_budget(folders):
    """The issue's case at its real size: 4 children of 700 MB lived (limit 2 GiB); now the watchdog stops
    the submission's processes, and the grader's log says why."""
    cells = [CHILDREN, "print('ALIVE', children(4, 700 * 10**6))"]
    result, printed = _rootless(folders, cells)
    print(result["error"], result["outputs"], result["cgroups"])
    assert "ALIVE 4" not in "".join(result["outputs"])
    assert "DeadKernel" in result["error"] or "died" in result["error"], result["error"]
    assert "over its budget of 2048 MiB" in result["log"], result["log"][-2000:]
    assert result["stats"]["memory_stopped_bytes"] > 2 * 2**30, result["stats"]  # what sandboxed() reports


@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_memory_budget_counts_shared_pages_once_and_stops_the_sum(folders):
    """Scaled down (budget 300 MiB): forks that share the kernel's pages and hold 4 x 20 MB live; 4 x 100 MB
    (under the per-process limit each, over the budget together) are stopped."""
    cells = [CHILDREN, "print('SMALL', children(4, 20 * 10**6))", "print('BIG', children(4, 100 * 10**6))"]
    result, _ = _rootless(folders, cells, limits="submission_memory=300M")
    print(result["error"], result["outputs"])
    assert "SMALL 4" in result["outputs"][1], result
    assert "BIG 4" not in result["outputs"][2] and result["error"], result
    assert "over its budget of 300 MiB" in result["log"], result["log"][-2000:]


@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_process_bound_is_per_submission_and_pid_1_is_out_of_reach(folders):
    """250 sleeping processes of the grading uid made every other sandbox of that uid fail to fork
    (RLIMIT_NPROC counts per uid). Now the bound is counted in each sandbox's user namespace: one sandbox
    holds up to its 256 while another beside it still forks; pid 1 of an exec-mode sandbox (the student
    host's) cannot be traced or read either."""
    result, _ = _rootless(folders, None, "--beside")
    print(result)
    held = int(result["held"].split()[1])
    assert 250 <= held < 256, result["held"]  # bounded by Limits.processes (256, this sandbox's processes)
    forked = result["forked"]
    assert forked is not None, result["forker_error"]
    assert forked["forked"] == 20, forked
    assert "Operation not permitted" in forked["ptrace"] and forked["environ"].startswith("PermissionError"), forked
    assert forked["fd1"].startswith("PermissionError"), forked


@pytest.mark.grading
@needs_sandbox
def test_a_feedback_page_that_could_not_be_made_is_that_submissions_reason(tmp_path, monkeypatch):
    """A result without a feedback page said nothing (the issue's rootless runs); now nbgrader's failure to
    make one is the submission's needs-attention reason, with nbgrader's last log line."""
    from test_sandbox import _submission, grade_in_sandbox

    from autograder.grading import worker
    from testkit.pipeline_fixture import released_course

    real = worker.nbgrader_api

    def failing_feedback(course, *args, **kwargs):
        api = real(course, *args, **kwargs)
        if "HideHiddenTests.verdicts" in (kwargs.get("extra") or {}):
            api.generate_feedback = lambda *a, **k: {"success": False, "error": "",
                                                     "log": "[GenerateFeedbackApp | ERROR] no template here\n"}
        return api

    monkeypatch.setattr(worker, "nbgrader_api", failing_feedback)
    course = released_course(tmp_path)[0]
    result, _ = grade_in_sandbox(course, "anna", _submission(course))
    assert result.score == result.max_score > 0 and result.feedback == ""
    assert not result.status.ok
    assert "no feedback page" in str(result.status) and "no template here" in str(result.status), result.status
