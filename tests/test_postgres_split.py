"""Grading on several machines into one PostgreSQL gradebook (docs/deploy.md, "### Grading on several machines").

The section's blocks marked ``run on grader-a`` / ``grader-b`` are run as printed, each machine a folder of
its own (its own course folder, so its own grade lock; the two share only the database), against a throwaway
PostgreSQL server (testkit/pgserver.py); ``ssh grader-b COMMAND`` runs COMMAND in ``grader-b``'s folder. The
two ``grade --part`` runs start together. The class is the first assignment of the sample class, four
students. The same class graded by one ``grade`` on one machine, into a database of its own, is the
reference: the scores of every cell, the gradebook's rows and ``grades.csv`` must be the same.

The fast tests check ``--part`` itself and that every command block of "Past one machine" is run here or
says why not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.commands.sample_class import make_sample_class
from autograder.coursedir.course import CourseDir
from autograder.coursedir.database import open_gradebook
from autograder.errors import CourseError
from autograder.grading.parts import in_part, parse_part
from autograder.grading.record import load_results

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "deploy.md"
BIN = Path(sys.executable).parent
ASSIGNMENT = "01-chain-rule"
KINDS = ["correct", "partly-wrong", "blank", "syntax-error"]
_MARKER = re.compile(r"^\s*<!--\s*(run on (grader-[a-z]+)( at the same time)?|not run here: (.+?))\s*-->\s*$")
_BLOCK = re.compile(r"^\s*```console\n(.*?)^\s*```", re.S | re.M)


@dataclass(frozen=True)
class Step:
    """One console block of the guide: where it runs (None: not run here, ``why``) and its commands."""

    machine: str | None
    together: bool  # starts together with the step before it
    commands: tuple[str, ...]
    why: str = ""


def guide_steps(title: str) -> list[Step]:
    """The console blocks of ``### title`` in docs/deploy.md, each with the marker line just above it."""
    section = GUIDE.read_text().split(f"### {title}\n", 1)[1]
    section = re.split(r"^##+ ", section, maxsplit=1, flags=re.M)[0]
    steps = []
    for block in _BLOCK.finditer(section):
        above = section[:block.start()].rstrip("\n").rsplit("\n", 1)[-1]
        m = _MARKER.match(above)
        assert m, f"{title}: a command block without a `run on` or `not run here: why` line above it:\n{block[0]}"
        commands = tuple(ln.strip()[2:] for ln in block.group(1).splitlines() if ln.strip().startswith("$ "))
        steps.append(Step(m.group(2), bool(m.group(3)), commands, m.group(4) or ""))
    return steps


# ------------------------------------------------------------------------------------------------ fast tier
def test_every_command_block_past_one_machine_is_run_here_or_says_why_not():
    kubernetes = guide_steps("Kubernetes")
    assert len(kubernetes) == 4 and all(s.machine is None and len(s.why) > 15 for s in kubernetes)
    assert any("docker build" in c for s in kubernetes for c in s.commands)
    split = guide_steps("Grading on several machines")
    assert [s.machine for s in split] == [None, "grader-a", "grader-b", "grader-a", "grader-b", "grader-a"]
    assert [s.together for s in split] == [False, False, False, False, True, False]
    parts = {c for s in split for c in s.commands if "--part" in c}
    assert parts == {"backprop-course grade --part 1/2", "backprop-course grade --part 2/2"}


def test_parts_split_any_class_into_disjoint_shares():
    ids = [f"student-{i}" for i in range(600)] + ["Anna-Muller-1a2b", "s01-correct", "12345"]
    for n in (1, 2, 3, 7):
        owners = [[k for k in range(1, n + 1) if in_part(s, (k, n))] for s in ids]
        assert all(len(o) == 1 for o in owners), "each student in exactly one part"
        sizes = [sum(o == [k] for o in owners) for k in range(1, n + 1)]
        assert min(sizes) > len(ids) / n * 0.7, sizes  # roughly even shares
    assert all(in_part(s, None) for s in ids)
    # the split is a function of the id alone: these stay where they are (else a re-run would move them)
    assert [in_part(f"s0{i}-{k}", (1, 2)) for i, k in enumerate(KINDS, 1)] == [True, False, True, False]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "-1/2", ""])
def test_a_bad_part_is_one_clear_error(text, tmp_path, capsys):
    with pytest.raises(CourseError, match="is not K/N with 1 <= K <= N"):
        parse_part(text)
    assert main(["grade", "--course-dir", str(tmp_path), f"--part={text}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --part") and "--part 1/2" in err[0], err
    assert parse_part(" 2 / 3 ") == (2, 3)


# ------------------------------------------------------------------------------------------------- the guide
def _env(url: str, machines: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPC_") and k != "PYTHONPATH"}
    return {**env, "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "MPLBACKEND": "Agg", "BPC_GRADEBOOK_URL": url,
            "MACHINES": str(machines)}


# ``ssh HOST COMMAND``: COMMAND in HOST's folder (each machine is a folder of the test's)
_SSH = 'ssh() { local host="$1"; shift; (cd "$MACHINES/$host" && bash -c "$*"); }\n'


def _run(command: str, cwd: Path, env: dict[str, str]) -> str:
    """One printed command with bash in ``cwd``; ``grade`` may exit 1 (a submission needs attention)."""
    run = subprocess.run(["bash", "-c", f"set -o pipefail\n{_SSH}{command}"], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=1200)
    allowed = (0, 1) if command.startswith("backprop-course grade") else (0,)
    assert run.returncode in allowed and "Traceback" not in run.stderr, \
        f"$ {command} (in {cwd.name}) exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout


def _run_guide(steps: list[Step], machines: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """Run the steps that run here, in order (a ``together`` step with the one before); outputs per command."""
    outputs: dict[str, list[str]] = {}
    runnable = [s for s in steps if s.machine]
    i = 0
    while i < len(runnable):
        group = [runnable[i]] + ([runnable[i + 1]] if i + 1 < len(runnable) and runnable[i + 1].together else [])
        threads = []
        for step in group:
            def run(step: Step = step) -> None:
                for command in step.commands:
                    outputs.setdefault(f"{step.machine}: {command}", []).append(
                        _run(command, machines / step.machine, env))
            threads.append(threading.Thread(target=run))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        i += len(group)
    return outputs


def _submissions_zip(course: Path, out: Path) -> None:
    """The sample class's first assignment, as nbgrader's layout in a zip (what an LMS download holds)."""
    make_sample_class(course / "release", course / "source", out.parent / "class", [ASSIGNMENT], KINDS)
    with zipfile.ZipFile(out, "w") as z:
        for path in sorted((out.parent / "class").rglob("*.ipynb")):
            z.write(path, path.relative_to(out.parent / "class").as_posix())


def _cells(url: str) -> list[tuple]:
    """Every graded cell's row in the gradebook: student, assignment, notebook, cell, scores, needs manual."""
    with open_gradebook(url) as gb:
        return sorted((sub.student.id, a.name, nb.name, g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                      for a in gb.assignments for sub in a.submissions for nb in sub.notebooks for g in nb.grades)


def _rows(postgres, url: str) -> dict[str, str]:
    dbname = url.rsplit("/", 1)[1]
    return {
        "students": postgres.sql("SELECT id FROM student ORDER BY id", dbname=dbname),
        "submissions": postgres.sql("SELECT s.student_id, a.name, count(*) FROM submitted_assignment s JOIN "
                                    "assignment a ON a.id = s.assignment_id GROUP BY 1, 2 ORDER BY 1, 2",
                                    dbname=dbname),
        "assignments": postgres.sql("SELECT name FROM assignment ORDER BY name", dbname=dbname),
    }


def _results(folder: Path, url: str) -> dict[tuple[str, str], tuple]:
    return {(r.student, r.assignment): (r.score, r.max_score, tuple((c.notebook, c.cell, c.score) for c in r.cells),
                                        r.status.text())
            for r in load_results(CourseDir.at(folder / "course", url))}


@pytest.fixture(scope="module")
def one_machine(postgres, tmp_path_factory):
    """The class graded by one `grade` on one machine (its own database): the reference."""
    machines = tmp_path_factory.mktemp("machines")
    url = postgres.create_database("one_machine")
    env = _env(url, machines)
    folder = machines / "one"
    folder.mkdir()
    _run("backprop-course release", folder, env)
    _submissions_zip(folder / "course", machines / "submissions.zip")
    _run(f"backprop-course collect ../submissions.zip --assignment {ASSIGNMENT}", folder, env)
    out = _run("backprop-course grade", folder, env)
    assert f"graded {len(KINDS)}," in out, out
    return machines, url


@pytest.mark.postgres
@pytest.mark.grading
def test_two_machines_grade_halves_of_a_class_into_one_postgres_as_one_machine_does(one_machine, postgres):
    machines, one_url = one_machine
    url = postgres.create_database("two_machines")
    for name in ("grader-a", "grader-b"):
        (machines / name).mkdir()
        (machines / name / "submissions.zip").write_bytes((machines / "submissions.zip").read_bytes())
    outputs = _run_guide(guide_steps("Grading on several machines"), machines, _env(url, machines))

    students = sorted(f"s{i:02d}-{k}" for i, k in enumerate(KINDS, 1))
    for k, machine in ((1, "grader-a"), (2, "grader-b")):
        (out,) = outputs[f"{machine}: backprop-course grade --part {k}/2"]
        share = [s for s in students if in_part(s, (k, 2))]
        assert f"graded {len(share)}, unchanged 0" in out and 0 < len(share) < len(students), out
        assert all(f"{s}/{ASSIGNMENT}" in out for s in share), out
    (last,) = outputs["grader-a: backprop-course grade"]
    assert f"graded 0, unchanged {len(students)}" in last and "recorded" not in last, last

    assert _cells(url) == _cells(one_url) and len(_cells(url)) > len(students)
    assert _rows(postgres, url) == _rows(postgres, one_url)
    assert _rows(postgres, url)["submissions"].splitlines() == [f"{s}|{ASSIGNMENT}|1" for s in students]
    assert _results(machines / "grader-a", url) == _results(machines / "one", one_url)
    assert set(_results(machines / "grader-b", url)) == {(s, ASSIGNMENT) for s in students if in_part(s, (2, 2))}
    grades = (machines / "grader-a" / "course" / "grades.csv").read_text()
    assert grades == (machines / "one" / "course" / "grades.csv").read_text() and grades.count("\n") == 5
    for student in students:
        assert (machines / "grader-a" / "course" / "feedback" / student / ASSIGNMENT).is_dir(), student
