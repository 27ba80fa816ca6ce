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
from test_sandbox import needs_sandbox

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
r = {{"environ": _try(lambda: open("/proc/1/environ", "rb").read().decode(errors="replace")),
      "fd1": _try(lambda: __import__("os").readlink("/proc/1/fd/1")),
      "write_fd1": _try(_write),
      "own_fd1": _try(lambda: __import__("os").readlink("/proc/self/fd/1"))}}
print("PROBE " + json.dumps(r))
'''


def _rootless(request_cleanup: list[Path], cells: list[str] | None) -> tuple[dict, str]:
    """Run ``cells`` in the sandbox as uid 65534 with a secret in the grader's environment; (result, its output).

    ``cells`` None: grade a small class there instead (``testkit.rootless_probe --grade``).
    """
    folder = Path(tempfile.mkdtemp(prefix="bpc-rootless-"))  # a parent 65534 can traverse
    request_cleanup.append(folder)
    (folder / "cells.json").write_text(json.dumps(cells or []))
    shutil.chown(folder, 65534, 65534)
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PGPASSWORD": SECRET, "TMPDIR": str(folder),
           "PYTHONPATH": str(REPO_ROOT), "JUPYTER_RUNTIME_DIR": str(folder / "runtime")}
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all", sys.executable, "-m", "testkit.rootless_probe",
               *(["--grade", str(folder)] if cells is None else [str(folder), str(folder / "cells.json")])]
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


@pytest.mark.grading
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to uid 65534 needs root")
@needs_sandbox
def test_rootless_grade_scores_writes_feedback_and_says_one_at_a_time(folders):
    """The issue saw no feedback page in rootless runs; graded here as uid 65534, each result has its page."""
    result, _ = _rootless(folders, None)
    first = result["printed"][0]
    assert first.startswith("sandbox rootless") and "ONE submission at a time" in first, first
    assert "with 1 worker(s)" in result["printed"][1], result["printed"][1]
    assert len(result["results"]) == 2
    for r in result["results"]:
        assert r["status"].startswith("ok") and r["score"] == 3.0, r
        assert r["pages"] == ["double.html"], r


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
