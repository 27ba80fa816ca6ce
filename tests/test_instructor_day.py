"""docs/instructor.md's "A day in the life", followed literally, with PATH lacking the virtual environment.

The commands, the ``deadlines.toml`` and the ``nbgrader_config.py`` line are taken from the document and
run as written, in a fresh folder, by the installed ``.venv/bin/backprop-course`` with ``PATH=/usr/bin:/bin``
(nbgrader runs ``alembic`` and ``jupyter`` by name). The Formgrader step starts the documented command,
checks that Formgrader answers, and gives a manual grade and a comment the way Formgrader's handlers do.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from autograder.commands.sample_class import solved
from autograder.coursedir.course import CourseDir
from autograder.coursedir.database import open_gradebook
from autograder.coursedir.deadlines import read_deadlines

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOC = ROOT / "docs" / "instructor.md"


def day_in_the_life(title: str = "A day in the life") -> list[tuple[str, str, str]]:
    """The section's steps in order: ("file", path, text), ("append", path, text) or ("run", command, "")."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    steps = []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S):
        first, _, rest = body.partition("\n")
        if lang == "console":
            steps += [("run", line[2:].strip(), "") for line in body.splitlines() if line.startswith("$ ")]
        elif lang == "toml":
            steps.append(("file", first.lstrip("# ").strip(), rest))
        elif lang == "python":
            steps.append(("append", first.lstrip("# ").split(" (")[0].strip(), rest))
    return steps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _formgrader_step(cmd: list[str], env: dict, cwd: Path) -> None:
    port = _free_port()
    cmd = [str(port) if a == "8899" else a for a in cmd]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # never let the pipe fill
    reader.start()
    try:
        deadline = time.monotonic() + 300
        token = None
        while token is None:
            assert proc.poll() is None, "JupyterLab stopped:\n" + "".join(lines[-20:])
            assert time.monotonic() < deadline, "JupyterLab printed no URL:\n" + "".join(lines[-20:])
            found = [m.group(1) for ln in list(lines) if (m := re.search(rf":{port}/\S*token=(\w+)", ln))]
            token = found[0] if found else None
            time.sleep(0.5)
        # Formgrader's own API, in the course folder's configuration: it lists the released assignments
        request = urllib.request.Request(f"http://127.0.0.1:{port}/formgrader/api/assignments",
                                         headers={"Authorization": f"token {token}"})
        while True:
            try:
                assignments = json.loads(urllib.request.urlopen(request, timeout=120).read())
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and proc.poll() is None, "".join(lines[-20:])
                time.sleep(1)
        assert "01-chain-rule" in {a["name"] for a in assignments}, assignments
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _grade_like_formgrader(course: CourseDir, student: str) -> tuple[str, float]:
    """Formgrader's grade and comment handlers, through nbgrader's Gradebook: one cell scored by hand."""
    with open_gradebook(course.db_url) as gb:
        nb = gb.find_submission_notebook("chain-rule", "01-chain-rule", student)
        grade = sorted(nb.grades, key=lambda g: g.name)[0]
        grade.manual_score = max(0.0, float(grade.max_score) - 0.5)
        grade.needs_manual_grade = False
        comment = next(c for c in nb.comments if c.name == grade.name) if any(
            c.name == grade.name for c in nb.comments) else None
        if comment is not None:
            comment.manual_comment = "Half a point off: say which rule you used."
        gb.db.commit()
        return f"chain-rule:{grade.name}", grade.manual_score


def test_the_day_in_the_life_runs_as_written(tmp_path):
    steps = day_in_the_life()
    assert [s[1].split()[1] for s in steps if s[0] == "run"] == [
        "release", "collect", "grade", "formgrader", "report", "export"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    assert not any(Path(p, "alembic").exists() for p in env["PATH"].split(":"))
    course = CourseDir(tmp_path / "course", f"sqlite:///{tmp_path / 'course' / 'gradebook.db'}")
    manual = None
    for kind, what, text in steps:
        if kind == "file":
            (tmp_path / what).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / what).write_text(text)
            continue
        if kind == "append":
            with (tmp_path / what).open("a") as fh:
                fh.write(text)
            continue
        cmd = what.split()
        assert cmd[0] == ".venv/bin/backprop-course"
        cmd[0] = str(BIN / "backprop-course")
        if cmd[1] == "collect":  # the LMS download: alice answered everything, bob handed in the blank notebook
            release = tmp_path / "course" / "release" / "01-chain-rule" / "chain-rule.ipynb"
            source = tmp_path / "course" / "source" / "01-chain-rule" / "chain-rule.ipynb"
            rel, src = nbformat.read(release, as_version=4), nbformat.read(source, as_version=4)
            for student, nb in (("alice", solved(rel, src)), ("bob", rel)):
                (tmp_path / "submissions" / student / "01-chain-rule").mkdir(parents=True)
                nbformat.write(nb, tmp_path / "submissions" / student / "01-chain-rule" / "chain-rule.ipynb")
        if cmd[1] == "formgrader":
            _formgrader_step(cmd, env, tmp_path)
            manual = _grade_like_formgrader(course, "alice")
            continue
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode in (0, 1), (what, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (what, proc.stderr[-3000:])
        if cmd[1] == "release":
            config = (tmp_path / "course" / "nbgrader_config.py").read_text()
            assert 'c.LateSubmissionPlugin.penalty_method = "zero"' in config  # the instructor's line is kept
            assert (tmp_path / "course" / "release" / "backprop_course_lib-0.1.0-py3-none-any.whl").exists()
    # what the LMS gets is what the gradebook holds, late penalty and manual grade included
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "course" / "grades.csv").open())}
    due = read_deadlines(tmp_path / "course" / "deadlines.toml")
    alice = rows["alice"]
    cell, score = manual
    assert float(alice[cell]) == score
    late = alice["submitted"] > alice["due"]
    extended = due.due["01-chain-rule"] + due.extensions[("01-chain-rule", "alice")]
    assert alice["due"].startswith(f"{extended:%Y-%m-%d %H:%M}")
    assert float(alice["late_penalty"]) == (float(alice["raw_score"]) if late else 0.0)
    assert float(alice["score"]) == float(alice["raw_score"]) - float(alice["late_penalty"])
    canvas = list(csv.reader((tmp_path / "course" / "grades-canvas.csv").open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[0][5:] == ["01-chain-rule"] and canvas[1][0] == "Points Possible"
    by_id = {r[1]: r for r in canvas[2:]}
    assert float(by_id["alice"][5]) == float(alice["score"]) and set(by_id) == {"alice", "bob"}
    assert os.path.exists(tmp_path / "course" / "report.txt")
