"""`backprop-course formgrader`: students listed by their LMS names, no exchange banner, stops on SIGTERM.

A small course is released; two students are in the gradebook, one with the name ``collect`` kept in
``students.json``. The real command starts JupyterLab; Formgrader's own pages and API are asked.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from autograder.commands.release import release
from autograder.coursedir.course import CourseDir
from autograder.coursedir.database import open_gradebook
from autograder.grading.record import refresh_record
from testkit.pipeline_fixture import make_course_notebooks

pytestmark = pytest.mark.grading

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    return urllib.request.urlopen(request, timeout=120).read()


@pytest.fixture
def course(tmp_path):
    course = CourseDir.at(tmp_path / "course")
    release(course, make_course_notebooks(tmp_path), progress=lambda m: None)
    (course.root / "students.json").write_text(json.dumps(
        {"muller-anna-1001": {"id": "1001", "name": "Anna Maria Müller", "format": "moodle"}}))
    with open_gradebook(course.db_url) as gb:
        for student in ("muller-anna-1001", "bob"):
            gb.update_or_create_student(student)
            gb.add_submission("01-double", student)
    refresh_record(course)  # what grade, export and report do each time
    return course


def test_formgrader_names_students_shows_no_exchange_banner_and_stops_on_sigterm(course, tmp_path):
    port = _free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.Popen([str(BIN / "backprop-course"), "formgrader", "--course-dir", str(course.root),
                             "--no-browser", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        token = None
        while token is None:
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines[-20:])
            token = next((ln.split("token=")[1].split()[0] for ln in list(lines) if f":{port}/" in ln
                          and "token=" in ln), None)
            time.sleep(0.5)
        base = f"http://127.0.0.1:{port}/formgrader"
        while True:
            try:
                students = json.loads(_get(f"{base}/api/students", token))
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and proc.poll() is None, "".join(lines[-20:])
                time.sleep(1)
        names = {s["id"]: (s["first_name"], s["last_name"]) for s in students}
        assert names == {"muller-anna-1001": ("Anna Maria", "Müller"), "bob": ("", "bob")}, names
        page = _get(f"{base}/manage_assignments", token).decode()
        assert "01-double" in page or "manage_assignments" in page
        assert "warning-exchange" not in page and "exchange directory" not in page
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) is not None  # stopped, JupyterLab with it
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "JupyterLab still listens after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
