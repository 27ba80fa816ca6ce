"""A whole course cycle through the course's JupyterHub (deploy/hub) on 127.0.0.1, graded into PostgreSQL.

The instructor releases an assignment into nbgrader's exchange; two students start their servers through
the hub, fetch it, answer it (one correctly, one partly) through Jupyter's contents API and submit it with
nbgrader's assignment-list handlers; the instructor collects, grades with ``backprop-course grade --db``
(PostgreSQL) and releases the feedback; each student fetches feedback that shows their own score and none
of the hidden tests. Every request goes to 127.0.0.1 (the hub's proxy); each user's server runs as that
user's own Unix account, so the exchange's owners and permissions are the real ones.
"""

from __future__ import annotations

import csv
import html
import json
import re
import stat
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
from hub_support import (
    BIN,
    COURSE_ID,
    INSTRUCTOR,
    ROOT,
    STUDENTS,
    CourseHub,
    ServerClient,
    form_login,
    guide_blocks,
    run_as_user,
    tool_env,
    user_environment,
)
from nbgrader.utils import parse_utc

pytestmark = [pytest.mark.hub, pytest.mark.grading]

ASSIGNMENT = "01-chain-rule"
KINDS = {"bpc-ada": "correct", "bpc-bob": "partly-wrong"}  # student -> sample_class kind of answers
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


# ------------------------------------------------------------------------------------------------ helpers
def _instructor(hub: CourseHub, *args: str, cwd: Path | None = None, token: str = "") -> subprocess.CompletedProcess:
    """Run a command as the instructor, with the environment the hub gives the instructor's server.

    ``token``: the instructor's hub token (their server's ``JUPYTERHUB_API_TOKEN``: ngshare asks the hub who
    is calling with it).
    """
    env = user_environment(hub.settings, "instructor", hub.home(INSTRUCTOR))
    assert env["BPC_COURSE_DIR"] == str(hub.course_dir)
    if token:
        env["JUPYTERHUB_API_TOKEN"] = token
    return run_as_user(hub.home(INSTRUCTOR), INSTRUCTOR, list(args), env, cwd or hub.course_dir)


def _tool(name: str) -> str:
    return str(BIN / name)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _page_config(server: ServerClient) -> dict:
    """The JupyterLab page's configuration (disabled extensions and so on) as the user's browser gets it."""
    status, raw = server.request("GET", "/lab")
    assert status == 200, f"{server.name}: /lab answered {status}"
    m = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', raw, re.S)
    assert m, f"{server.name}: no page config in /lab"
    return json.loads(m.group(1))


def _hidden_lines(source_nb: Path) -> list[str]:
    """The code lines of the hidden tests in the source notebook (what feedback must not show).

    A line that is also in a solution is left out: a hidden reference may repeat the solution's code, and
    a correct student's feedback shows their own answer.
    """
    lines, inside, solution, in_solution = [], False, set(), False
    for cell in nbformat.read(str(source_nb), as_version=4).cells:
        for line in cell.source.split("\n"):
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif "### BEGIN SOLUTION" in line:
                in_solution = True
            elif "### END SOLUTION" in line:
                in_solution = False
            elif in_solution:
                solution.add(line.strip())
            elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
                lines.append(line.strip())
    return [line for line in lines if line not in solution]


def _visible_test_lines(release_nb: Path) -> list[str]:
    """Code lines of the released (visible) test cells: feedback shows these, which proves the search works."""
    out = []
    for cell in nbformat.read(str(release_nb), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            out += [ln.strip() for ln in cell.source.split("\n") if len(ln.strip()) > 12]
    return out


def _text_of(page: str) -> str:
    """An HTML page's text: tags removed, entities decoded (highlighted code becomes plain code again)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# ------------------------------------------------------------------------------------------------ the exchange
def _ngshare(hub: CourseHub, token: str, path: str) -> dict:
    """``GET`` the hub's ngshare service (through the proxy) with a user's token; fails unless it succeeded."""
    req = urllib.request.Request(hub.settings.ngshare_url + path, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.loads(r.read())
    assert answer.get("success"), f"ngshare {path}: {answer}"
    return answer


def _guide_lines(hub: CourseHub, index: int, token: str) -> None:
    """Run docs/deploy.md's ``ngshare-terminal`` block ``index`` as printed, line by line, as the instructor.

    (With their server's environment and hub token, in their home folder, as a terminal of their JupyterLab.)
    """
    block = [b for b in guide_blocks() if b.kind == "ngshare-terminal"][index]
    env = {**user_environment(hub.settings, "instructor", hub.home(INSTRUCTOR)), "JUPYTERHUB_API_TOKEN": token}
    run_as_user(hub.home(INSTRUCTOR), INSTRUCTOR, ["bash", "-e", "-c", block.text], env, hub.home(INSTRUCTOR))


def _on_disk(hub: CourseHub) -> list[str]:
    """Everything in the exchange folder (with ngshare it must stay empty: nothing goes through a disk)."""
    return sorted(str(p.relative_to(hub.exchange)) for p in hub.exchange.rglob("*"))


# ------------------------------------------------------------------------------------------------ the test
def test_course_cycle_through_the_hub(course_hub: CourseHub, tmp_path: Path) -> None:
    hub, client = course_hub, course_hub.hub.client
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(step: str) -> None:
        timings[step] = round(time.monotonic() - started - sum(timings.values()), 1)

    # Only the listed users may log in, with the course's password (the test authenticator).
    assert form_login(client.url, "bpc-ada", hub.settings.password) == 200
    assert form_login(client.url, "bpc-ada", "not-the-password") != 200
    assert form_login(client.url, "someone-else", hub.settings.password) != 200
    servers = _start_servers(hub)
    lap("servers")
    _release(hub, servers[INSTRUCTOR])
    lap("release")
    notebooks = sorted(p.name for p in (hub.course_dir / "release" / ASSIGNMENT).glob("*.ipynb"))
    assert notebooks
    _students_submit(hub, servers, notebooks, tmp_path)
    lap("students submit")
    _collect(hub, servers[INSTRUCTOR].token, notebooks)
    lap("collect")
    grade = _grade(hub)
    scores = _grades_csv(hub.course_dir / "grades.csv")
    assert set(scores) == set(KINDS), (scores, grade.stdout[-2000:])
    max_score = scores["bpc-ada"][1]
    assert scores["bpc-ada"][0] == max_score > 0, scores
    assert 0 < scores["bpc-bob"][0] < max_score, scores
    assert _gradebook_scores(hub.gradebook_url) == {n: s for n, (s, _m) in scores.items()}
    lap("grade")
    released = _instructor(hub, _tool("nbgrader"), "release_feedback", ASSIGNMENT, "--course", COURSE_ID,
                           token=servers[INSTRUCTOR].token)
    if hub.settings.exchange == "files":
        feedback = list((hub.exchange / COURSE_ID / "feedback").glob("*.html"))
        assert len(feedback) == len(KINDS) * len(notebooks), released.stderr
    lap("release feedback")
    _students_read_feedback(hub, servers, notebooks, scores)
    lap("students fetch feedback")
    if hub.settings.exchange == "ngshare":
        assert not _on_disk(hub), f"ngshare: files in the shared exchange folder {_on_disk(hub)}"
    print(f"hub cycle ({hub.settings.exchange} exchange) timings (s): {timings}; "
          f"total {time.monotonic() - started:.1f}")


def _start_servers(hub: CourseHub) -> dict[str, ServerClient]:
    """Every server starts through the hub (in parallel); students get no instructor tools."""
    client = hub.hub.client
    names = [INSTRUCTOR, *STUDENTS]
    for name in names:
        client.request_server(name)
    for name in names:
        client.wait_ready(name)
    servers = {name: ServerClient(client.url, name, client.user_token(name)) for name in names}
    teacher = servers[INSTRUCTOR]
    for name in STUDENTS:
        assert servers[name].request("GET", "/formgrader")[0] == 404, "students must not have Formgrader"
        assert servers[name].request("GET", "/formgrader/api/assignments")[0] == 404
        disabled = set(_page_config(servers[name]).get("disabledExtensions", []))
        assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                "@jupyter/nbgrader:course-list"} <= disabled, disabled
        assert "@jupyter/nbgrader:assignment-list" not in disabled
    assert teacher.request("GET", "/formgrader")[0] in (200, 302), "the instructor has Formgrader"
    assert not {x for x in _page_config(teacher).get("disabledExtensions", []) if "nbgrader" in x}
    return servers


def _release(hub: CourseHub, teacher: ServerClient) -> None:
    """The instructor builds the course and releases the assignment into the exchange."""
    gradebook = ["--db", hub.gradebook_url]
    _instructor(hub, _tool("backprop-course"), "release", "--course-dir", str(hub.course_dir), *gradebook,
                cwd=hub.home(INSTRUCTOR))
    if hub.settings.exchange == "ngshare":  # the course and its students, in ngshare (the guide's lines)
        _guide_lines(hub, 0, teacher.token)
    _instructor(hub, _tool("nbgrader"), "release_assignment", ASSIGNMENT, "--course", COURSE_ID,
                token=teacher.token)
    if hub.settings.exchange == "files":
        course_x = hub.exchange / COURSE_ID
        assert (course_x / "outbound" / ASSIGNMENT).is_dir()
        assert _mode(course_x / "outbound") == 0o755 and _mode(course_x / "inbound") & 0o777 == 0o733
    else:
        assert ASSIGNMENT in _ngshare(hub, teacher.token, f"/assignments/{COURSE_ID}")["assignments"]
        assert not _on_disk(hub)
    # the instructor's Formgrader finds the course folder and the gradebook the hub's settings name
    listed = teacher.json("GET", "/formgrader/api/assignments")
    assert ASSIGNMENT in {a["name"] for a in listed}, listed


def _students_submit(hub: CourseHub, servers: dict[str, ServerClient], notebooks: list[str], tmp_path: Path) -> None:
    """Each student fetches, answers and submits, through the hub's proxy."""
    from autograder.commands.sample_class import make_sample_class

    for name, kind in KINDS.items():
        server = servers[name]
        listed = server.assignment_action("fetch", COURSE_ID, ASSIGNMENT)
        assert listed["success"], listed
        fetched = [a for a in listed["value"] if a["assignment_id"] == ASSIGNMENT and a["status"] == "fetched"]
        assert fetched, f"{name} could not fetch {ASSIGNMENT}: {listed}"
        release_copy = tmp_path / name / "release"
        (release_copy / ASSIGNMENT).mkdir(parents=True)
        for nb_name in notebooks:  # what the student got, read through their server
            model = server.json("GET", f"/api/contents/{ASSIGNMENT}/{nb_name}?content=1")
            assert model["type"] == "notebook"
            nbformat.write(nbformat.from_dict(model["content"]), str(release_copy / ASSIGNMENT / nb_name))
        make_sample_class(release_copy, hub.course_dir / "source", tmp_path / name / "answers", [ASSIGNMENT],
                          kinds=[kind])
        (answers,) = (tmp_path / name / "answers").glob(f"*/{ASSIGNMENT}")
        for nb_name in notebooks:  # the student saves their answers (as JupyterLab does)
            content = json.loads((answers / nb_name).read_text())
            server.json("PUT", f"/api/contents/{ASSIGNMENT}/{nb_name}",
                        {"type": "notebook", "format": "json", "content": content})
        submitted = server.assignment_action("submit", COURSE_ID, ASSIGNMENT)
        assert submitted["success"], submitted
        mine = [a for a in submitted["value"] if a["status"] == "submitted" and a["assignment_id"] == ASSIGNMENT]
        assert mine and all(a["student_id"] == name for a in mine), mine
    if hub.settings.exchange == "files":
        inbound = sorted((hub.exchange / COURSE_ID / "inbound").iterdir())
        assert [p.name.split("+")[0] for p in inbound] == sorted(KINDS)
    else:
        listed = _ngshare(hub, servers[INSTRUCTOR].token, f"/submissions/{COURSE_ID}/{ASSIGNMENT}")
        assert sorted(s["student_id"] for s in listed["submissions"]) == sorted(KINDS), listed
        assert not _on_disk(hub)


def _collect(hub: CourseHub, token: str, notebooks: list[str]) -> None:
    """The instructor collects: every submission lands in submitted/ with the exchange's time.

    File-system exchange: ``nbgrader collect``. ngshare: the guide's lines (``nbgrader collect`` into a
    folder of its own, then ``backprop-course collect --ngshare``, which checks it against ngshare's record).
    """
    if hub.settings.exchange == "files":
        collected = _instructor(hub, _tool("nbgrader"), "collect", ASSIGNMENT, "--course", COURSE_ID)
        assert "cheating attempt" not in collected.stdout + collected.stderr
    else:
        _guide_lines(hub, 1, token)
        record = _ngshare(hub, token, f"/submissions/{COURSE_ID}/{ASSIGNMENT}")["submissions"]
        recorded = {s["student_id"]: parse_utc(s["timestamp"]) for s in record}
        times = json.loads((hub.course_dir / "submission-times.json").read_text())
        for name in KINDS:
            stamp = (hub.course_dir / "submitted" / name / ASSIGNMENT / "timestamp.txt").read_text()
            assert parse_utc(stamp) == recorded[name], (name, stamp, recorded)
            assert times[name][ASSIGNMENT] == {"source": "ngshare's submission record", "missing": ""}, times
    for name in KINDS:
        folder = hub.course_dir / "submitted" / name / ASSIGNMENT
        assert {"timestamp.txt", *notebooks} <= {p.name for p in folder.iterdir()}, folder


def _students_read_feedback(hub: CourseHub, servers: dict[str, ServerClient], notebooks: list[str],
                            scores: dict[str, tuple[float, float]]) -> None:
    """Each student fetches their feedback: their own score, no hidden tests."""
    release = hub.course_dir / "release" / ASSIGNMENT
    released_text = "\n".join((release / n).read_text() for n in notebooks)
    hidden = [line for nb_name in notebooks for line in _hidden_lines(hub.course_dir / "source" / ASSIGNMENT / nb_name)
              if json.dumps(line)[1:-1] not in released_text]  # lines only the hidden tests have
    visible = [line for nb_name in notebooks for line in _visible_test_lines(release / nb_name)]
    assert hidden and visible
    for name, kind in KINDS.items():
        server = servers[name]
        listed = server.assignment_action("fetch_feedback", COURSE_ID, ASSIGNMENT)
        assert listed["success"], listed
        subs = [s for a in listed["value"] if a["status"] == "submitted" for s in a["submissions"]]
        assert subs and all(s["has_local_feedback"] and not s["feedback_updated"] for s in subs), subs
        folder = subs[-1]["local_feedback_path"]
        total = 0.0
        for nb_name in notebooks:
            path = urllib.parse.quote(f"{folder}/{Path(nb_name).stem}.html")
            page = server.json("GET", f"/api/contents/{path}?content=1&type=file")["content"]
            m = re.search(rf"<h4>{re.escape(Path(nb_name).stem)} \(Score: ([\d.]+) / ([\d.]+)\)</h4>", page)
            assert m, f"{name}: no score heading in the feedback"
            total += float(m.group(1))
            text = _text_of(page)
            assert HIDDEN_BEGIN not in text and HIDDEN_END not in text, f"{name}: hidden-test markers in feedback"
            shown = [line for line in hidden if line in text]
            assert not shown, f"{name}'s feedback shows hidden tests: {shown[:3]}"
            assert any(line in text for line in visible), "the search for test code in feedback finds nothing"
        assert total == pytest.approx(scores[name][0]), f"{name} ({kind}) sees {total}, graded {scores[name][0]}"


def _grade(hub: CourseHub) -> subprocess.CompletedProcess:
    """``backprop-course grade`` into the PostgreSQL gradebook (as root: the grader's sandbox needs it)."""
    from autograder.isolation.sandbox import sandbox_available

    args = [_tool("backprop-course"), "grade", "--course-dir", str(hub.course_dir), "--db", hub.gradebook_url,
            "--assignment", ASSIGNMENT, "--workers", "2"]
    if not sandbox_available()[0]:
        args.append("--no-sandbox")
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env=tool_env(), cwd=ROOT)  # a hang guard
    assert done.returncode == 0, f"grade exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _grades_csv(path: Path) -> dict[str, tuple[float, float]]:
    with path.open() as fh:
        return {r["student_id"]: (float(r["score"]), float(r["max_score"]))
                for r in csv.DictReader(fh) if r["assignment"] == ASSIGNMENT}


def _gradebook_scores(url: str) -> dict[str, float]:
    """Each student's score for the assignment, read back from the gradebook database."""
    from nbgrader.api import Gradebook

    from autograder.coursedir.course import COURSE_ID as GRADEBOOK_COURSE
    from autograder.coursedir.database import normalise_db_url

    with Gradebook(normalise_db_url(url), GRADEBOOK_COURSE) as gb:
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(ASSIGNMENT)}

