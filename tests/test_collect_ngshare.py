"""`backprop-course collect SOURCE --ngshare`: who handed in what, and when, as ngshare recorded it.

SOURCE is what `nbgrader collect` wrote with the ngshare exchange (``<student>/<assignment>/`` with a
``timestamp.txt``). The test serves ngshare's ``GET /submissions/<course>/<assignment>`` answer (its
documented JSON) on 127.0.0.1 and checks the token; the hub test (tests/hub/test_hub_cycle.py) runs the
real service.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from nbgrader.utils import parse_utc

from autograder.cli import main
from autograder.commands.collect import collect
from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError
from autograder.settings import COURSE_ID
from testkit.pipeline_fixture import make_course_notebooks

TOKEN = "instructor-token"
RECORD = {  # what ngshare holds: ada handed in twice, bob once; eve never
    "01-double": [{"student_id": "ada", "timestamp": "2026-03-01 10:00:00.000001"},
                  {"student_id": "ada", "timestamp": "2026-03-02 11:30:00.250000"},
                  {"student_id": "bob", "timestamp": "2026-03-01 09:00:00.000000"}],
}


class _Ngshare(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        prefix = f"/services/ngshare/submissions/{COURSE_ID}/"
        if self.headers.get("Authorization") != f"token {TOKEN}":
            status, body = 403, {"success": False, "message": "Permission denied (not course instructor)"}
        elif self.path.startswith(prefix) and self.path[len(prefix):] in RECORD:
            status, body = 200, {"success": True, "submissions": RECORD[self.path[len(prefix):]]}
        else:
            status, body = 404, {"success": False, "message": "Assignment not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ngshare_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ngshare)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/ngshare"
    server.shutdown()
    server.server_close()


@pytest.fixture
def course(tmp_path: Path) -> CourseDir:
    c = CourseDir.at(tmp_path / "course")
    shutil.copytree(make_course_notebooks(tmp_path / "repo"), c.source)
    return c


def _downloaded(course: CourseDir, folder: Path, student: str, stamp: str) -> None:
    """One student's folder as `nbgrader collect` (ngshare) writes it."""
    sub = folder / student / "01-double"
    sub.mkdir(parents=True)
    shutil.copy(course.source / "01-double" / "double.ipynb", sub / "double.ipynb")
    (sub / "timestamp.txt").write_text(stamp)


def test_times_and_students_come_from_ngshares_record(course, tmp_path, ngshare_url, monkeypatch):
    monkeypatch.setenv("BPC_NGSHARE_URL", ngshare_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
    src = tmp_path / "ngshare-download"
    _downloaded(course, src, "ada", "2026-03-02 11:30:00.250000")  # her second submission, as ngshare sent it
    _downloaded(course, src, "bob", "2026-02-01 08:00:00.000000")  # a time ngshare never recorded for him
    _downloaded(course, src, "eve", "2026-03-01 09:00:00.000000")  # ngshare holds nothing of hers
    report = collect(course, src, ngshare=True)
    ada = course.submitted / "ada" / "01-double"
    assert parse_utc((ada / "timestamp.txt").read_text()) == datetime(2026, 3, 2, 11, 30, 0, 250000)
    times = json.loads((course.root / "submission-times.json").read_text())
    assert times["ada"]["01-double"] == {"source": "ngshare's submission record", "missing": ""}
    bob = course.submitted / "bob" / "01-double"
    assert (bob / "double.ipynb").exists() and not (bob / "timestamp.txt").exists()
    assert "not one of the times ngshare recorded" in times["bob"]["01-double"]["missing"]
    assert not (course.submitted / "eve").exists()
    assert any("ngshare has no submission of 01-double by eve" in s for s in report.skipped)
    assert not any("timestamp.txt in the upload" in n for n in report.notes), report.notes


def test_ngshare_refusing_or_missing_is_a_clear_error(course, tmp_path, ngshare_url, monkeypatch, capsys):
    src = tmp_path / "ngshare-download"
    _downloaded(course, src, "ada", "2026-03-02 11:30:00.250000")
    monkeypatch.delenv("BPC_NGSHARE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(CourseError, match="--ngshare needs BPC_NGSHARE_URL and JUPYTERHUB_API_TOKEN"):
        collect(course, src, ngshare=True)
    monkeypatch.setenv("BPC_NGSHARE_URL", ngshare_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "a-students-token")
    assert main(["collect", str(src), "--ngshare", "--course-dir", str(course.root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ngshare refused") and "Permission denied" in err, err
    assert not (course.submitted / "ada").exists(), "nothing is filed when ngshare cannot vouch for it"
