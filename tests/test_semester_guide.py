"""docs/instructor.md's "A semester with Canvas" and "A semester with Moodle", run as printed.

Each section's files and commands are taken from the document and run with ``bash`` exactly as written, in
a fresh folder whose ``.venv/bin/backprop-course`` is the installed command, with ``PATH=/usr/bin:/bin``.
The LMS's files are built as Canvas and Moodle build them (testkit/lms_fixtures.py), and the ``curl`` line
fetches Canvas's submissions API from a local server that answers as Canvas does (and only to the token).
The files written for the LMS are then checked under each LMS's import rules.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from autograder.commands.sample_class import solved
from testkit.lms_fixtures import (
    CanvasSubmission,
    MoodleSubmission,
    canvas_gradebook,
    canvas_import,
    canvas_submissions_json,
    canvas_zip,
    moodle_upload,
    moodle_worksheet,
    moodle_zip,
)
from tests.test_instructor_day import day_in_the_life

pytestmark = pytest.mark.grading

BIN = Path(sys.executable).parent
UTC = dt.UTC
DUE = dt.datetime(2026, 10, 5, 23, 59, tzinfo=UTC)


def _solved_notebook(root: Path) -> bytes:
    release = root / "course" / "release" / "01-chain-rule" / "chain-rule.ipynb"
    source = root / "course" / "source" / "01-chain-rule" / "chain-rule.ipynb"
    nb = solved(nbformat.read(release, as_version=4), nbformat.read(source, as_version=4))
    return nbformat.writes(nb).encode()


def _run_section(title: str, root: Path, env: dict, after_release) -> list[str]:
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "backprop-course").symlink_to(BIN / "backprop-course")
    outputs = []
    for kind, what, text in day_in_the_life(title):
        if kind in ("file", "append"):
            (root / what).parent.mkdir(parents=True, exist_ok=True)
            with (root / what).open("w" if kind == "file" else "a") as fh:
                fh.write(text)
            continue
        proc = subprocess.run(["bash", "-c", what], cwd=root, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode in (0, 1), (what, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr and not proc.stderr.startswith("error"), (what, proc.stderr[-3000:])
        outputs.append(proc.stdout)
        if " release" in what:
            after_release()
    return outputs


class _Canvas(http.server.BaseHTTPRequestHandler):
    body = b"[]"

    def do_GET(self) -> None:
        ok = (self.headers.get("Authorization") == "Bearer test-token"
              and self.path == "/api/v1/courses/1234/assignments/88001/submissions?per_page=100")
        data = self.body if ok else b'{"errors":[{"message":"Invalid access token."}]}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def test_a_semester_with_canvas_runs_as_written(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canvas)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg", "LANG": "C.UTF-8",
           "CANVAS": f"http://127.0.0.1:{server.server_address[1]}", "CANVAS_TOKEN": "test-token"}
    book = tmp_path / "canvas-gradebook.csv"

    def downloads() -> None:
        work = _solved_notebook(tmp_path)
        subs = [CanvasSubmission("Müller, Anna", 4711, 501, "chain-rule.ipynb", work,
                                 dt.datetime(2026, 10, 5, 20, 0, tzinfo=UTC), DUE),
                CanvasSubmission("Berg, Ben", 4712, 502, "chain-rule-1.ipynb", work,  # resubmitted a day late
                                 dt.datetime(2026, 10, 6, 21, 0, tzinfo=UTC), DUE)]
        canvas_gradebook(book, [("Müller, Anna", 4711, "S1", "amueller"), ("Berg, Ben", 4712, "S2", "bberg"),
                                ("Cole, Cleo", 4713, "S3", "ccole")], [("Chain rule", 88001, 15.0)])
        canvas_zip(tmp_path / "backprop-chain-rule submissions.zip", subs, dt.datetime(2026, 10, 7, 9, 0))
        _Canvas.body = canvas_submissions_json(tmp_path / "api.json", subs, 88001, unsubmitted=[4713]).read_bytes()

    try:
        _run_section("A semester with Canvas", tmp_path, env, downloads)
    finally:
        server.shutdown()
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "course" / "grades.csv").open())}
    ids = {r["id"]: f for f, r in json.loads((tmp_path / "course" / "students.json").read_text()).items()}
    anna, ben = rows[ids["4711"]], rows[ids["4712"]]
    full = float(anna["max_score"])
    assert float(anna["score"]) == full and float(anna["late_penalty"]) == 0  # on time, though downloaded late
    assert ben["submitted"].startswith("2026-10-06 21:00") and float(ben["late_penalty"]) == pytest.approx(full / 10)
    imported = canvas_import(book, tmp_path / "course" / "grades-canvas.csv")
    assert {k: float(v) for k, v in imported.items()} == {
        ("4711", "88001"): full, ("4712", "88001"): pytest.approx(0.9 * full), ("4713", "88001"): 0.0}


def test_a_semester_with_moodle_runs_as_written(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    sheet = tmp_path / "worksheet-chain-rule.csv"
    berlin = dt.timezone(dt.timedelta(hours=2))

    def downloads() -> None:
        subs = [MoodleSubmission("Anna Müller", 1001, "anna@uni.example",
                                 {"chain-rule.ipynb": _solved_notebook(tmp_path),
                                  "timestamp.txt": b"2026-01-01 00:00:00 UTC"},
                                 dt.datetime(2026, 10, 5, 19, 0, tzinfo=UTC)),
                MoodleSubmission("Bob Stone", 1002, "bob@uni.example", {}, None)]
        moodle_worksheet(sheet, subs, 15.0, zone=berlin)
        moodle_zip(tmp_path / "CS101-chain-rule-42.zip", subs, dt.datetime(2026, 10, 9, 8, 0))

    _run_section("A semester with Moodle", tmp_path, env, downloads)
    records = json.loads((tmp_path / "course" / "students.json").read_text())
    assert [r["id"] for r in records.values()] == ["anna@uni.example"]
    (folder,) = records
    stamp = tmp_path / "course" / "submitted" / folder / "01-chain-rule" / "timestamp.txt"
    assert stamp.read_text() == "2026-10-05 19:00:00.000000 UTC\n"  # the worksheet's Berlin time, in UTC
    uploaded = moodle_upload(sheet, tmp_path / "course" / "grades-moodle-01-chain-rule.csv")
    assert set(uploaded) == {"1001", "1002"} and uploaded["1002"] == ("", "No submission.")
    assert float(uploaded["1001"][0]) > 0 and "points" in uploaded["1001"][1]
    assert os.path.exists(tmp_path / "course" / "grades.csv")
