"""Run notebook cells in the sandbox as this user: ``python -m testkit.rootless_probe FOLDER CELLS.json``.

``python -m testkit.rootless_probe --grade FOLDER`` grades a small class there instead (``--grade-sample``:
three students of the sample class, on the real course);
``python -m testkit.rootless_probe --beside FOLDER`` runs two sandboxed commands side by side (one holding
hundreds of processes, the other forking) and reports what each could do.
For tests that need a rootless grader (tests/test_rootless.py runs it as uid 65534 with ``setpriv``). Prints one
line ``RESULT <json>``: each cell's stdout text, the error that stopped the run, if any, and the log file
that stood in for the grader's ``workers.log`` (the kernels' stdout and stderr).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from autograder.isolation.sandbox import CappedExecute, sandboxed


def grade_one(folder: str, sample: bool = False) -> int:
    """Release the pipeline fixture's course under ``folder``, hand in a correct 01-double, grade it (2 workers).

    ``sample``: release the real course instead and grade the sample class's correct, partly wrong and
    blank submissions of 01-chain-rule.
    """
    import nbformat

    from autograder.commands.grade import grade, load_results
    from autograder.commands.release import release
    from autograder.commands.sample_class import make_sample_class, solved
    from autograder.coursedir.course import CourseDir
    from testkit.pipeline_fixture import make_course_notebooks

    root = Path(folder)
    course = CourseDir.at(root / "course")
    assignment = "01-chain-rule" if sample else "01-double"
    if sample:
        release(course, progress=lambda m: None)
        make_sample_class(course.release, course.source, course.submitted, [assignment],
                          ["correct", "partly-wrong", "blank"])
    else:
        release(course, make_course_notebooks(root), progress=lambda m: None)
        rel = nbformat.read(str(course.release / assignment / "double.ipynb"), as_version=4)
        src = nbformat.read(str(course.source / assignment / "double.ipynb"), as_version=4)
        for student in ("anna", "ben"):
            (course.submitted / student / assignment).mkdir(parents=True)
            nbformat.write(solved(rel, src), str(course.submitted / student / assignment / "double.ipynb"))
    printed: list[str] = []
    grade(course, workers=2, assignments=[assignment], progress=printed.append)
    results = [{"student": r.student, "status": str(r.status), "score": r.score, "feedback": r.feedback,
                "pages": sorted(p.name for p in Path(r.feedback).glob("*.html")) if r.feedback else []}
               for r in load_results(course)]
    print("RESULT " + json.dumps({"printed": printed, "results": results}))
    return 0


HOLDER = """
import os, sys, time
got = 0
for _ in range(400):
    try:
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
    except OSError:
        break
    got += 1
print("HELD", got, flush=True)
time.sleep(120)
"""
FORKER = """
import ctypes, json, os
got = 0
for _ in range(20):
    try:
        pid = os.fork()
    except OSError:
        continue
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    got += 1
def attempt(f):
    try:
        return "ok: " + repr(f())[:200]
    except OSError as e:
        return type(e).__name__ + ": " + str(e)[:200]
libc = ctypes.CDLL(None, use_errno=True)
def attach():
    if libc.ptrace(16, 1, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    os.waitpid(1, 0x40000000)  # __WALL: the attach stopped it
    libc.ptrace(17, 1, 0, 0)
    return "attached"
print("FORKED", json.dumps({"forked": got, "pid": os.getpid(), "ptrace": attempt(attach),
      "environ": attempt(lambda: open("/proc/1/environ", "rb").read()),
      "fd1": attempt(lambda: os.readlink("/proc/1/fd/1"))}), flush=True)
"""


def beside(folder: str) -> int:
    """Sandbox A holds up to 400 sleeping processes; then sandbox B, beside it, forks 20 and probes pid 1."""
    import subprocess

    from autograder.isolation.sandbox import sandbox_command

    tmp = Path(folder)
    scratch = tmp / "course" / ".grading" / "work" / "s__a"
    (scratch / "autograded").mkdir(parents=True, exist_ok=True)
    with sandboxed(scratch, tmp / "course"):
        holder = subprocess.Popen(sandbox_command([sys.executable, "-c", HOLDER]), stdout=subprocess.PIPE,
                                  text=True, start_new_session=True)
        try:
            held = (holder.stdout.readline() if holder.stdout else "").strip()
            forker = subprocess.run(sandbox_command([sys.executable, "-c", FORKER]), capture_output=True, text=True,
                                    timeout=120)
        finally:
            os.killpg(holder.pid, 9)
            holder.wait()
    line = next((ln for ln in forker.stdout.splitlines() if ln.startswith("FORKED ")), "")
    print("RESULT " + json.dumps({"held": held, "forked": json.loads(line[7:]) if line else None,
                                  "forker_error": forker.stderr[-1500:]}))
    return 0


def main(folder: str, cells_file: str) -> int:
    """Run the cells of ``cells_file`` (a JSON list of sources) in one sandboxed kernel under ``folder``."""
    tmp = Path(folder)
    scratch = tmp / "course" / ".grading" / "work" / "s__a"
    work = scratch / "autograded" / "s" / "a"
    work.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(c) for c in json.loads(Path(cells_file).read_text())])
    result_fd = os.dup(1)  # as a grading worker does (autograder.grading.pool): kernels' chatter to a log file
    log = os.open(tmp / "workers.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    error = ""
    with sandboxed(scratch, tmp / "course") as extra:
        cfg = Config()
        for key, value in extra.items():
            section, name = key.split(".", 1)
            setattr(cfg[section], name, value)
        cfg.Execute.timeout = 60
        try:
            CappedExecute(config=cfg).preprocess(nb, {"metadata": {"path": str(work)}})
        except Exception as exc:  # noqa: BLE001 - reported to the test
            error = f"{type(exc).__name__}: {exc}"[:500]
        cgroups = extra.cgroups
    stats = extra.stats
    outputs = ["".join(o.get("text", "") or str(o.get("evalue", "")) for o in c.outputs) for c in nb.cells]
    with os.fdopen(result_fd, "w") as out:
        out.write("RESULT " + json.dumps({"outputs": outputs, "error": error, "cgroups": cgroups, "stats": stats,
                                          "log": (tmp / "workers.log").read_text(errors="replace")}) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1] in ("--grade", "--grade-sample"):
        sys.exit(grade_one(sys.argv[2], sample=sys.argv[1] == "--grade-sample"))
    sys.exit(beside(sys.argv[2]) if sys.argv[1] == "--beside" else main(*sys.argv[1:3]))
