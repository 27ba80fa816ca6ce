"""One graded class against attacks and odd-but-honest files (issue 13): hidden tests never reach a student,
one submission cannot hurt the class, honest students never lose points for how a file was saved.

One small course (the pipeline fixture's two assignments plus ``03-pair``, whose test hands one student
function's result to another) is graded once for the whole module, every attack and every odd-but-honest
file in it. Each test then reads that class's results, grades.csv, report and feedback pages.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from autograder.cli import main
from autograder.commands.grade import grade, load_results
from autograder.commands.report import make_report
from autograder.commands.sample_class import answer_cells, solved
from autograder.coursedir.course import CourseDir
from autograder.grading.record import write_grades_csv
from testkit.pipeline_fixture import released_course

pytestmark = pytest.mark.grading

CORRECT = "def double(x: float) -> float:\n    return 2 * x\n"
HIDDEN_SIGNS = ("SECRET_HIDDEN_CHECK", "BEGIN HIDDEN", "-1.5", "-7.25")  # the hidden tests' code and inputs

# Each leaks the hidden tests (their code, or the hidden inputs the student's function receives) into the
# kernel's output in some way; the answer is otherwise correct, so its score must stay 3/3.
LEAKS = {
    "leak-stdout-hook": "def _leak(info):\n    print('LEAK', info.raw_cell)\n"
                        "get_ipython().events.register('pre_run_cell', _leak)\n" + CORRECT,
    "leak-stderr-hook": "import sys\ndef _leak(info):\n    sys.stderr.write('LEAK ' + info.raw_cell)\n"
                        "get_ipython().events.register('pre_run_cell', _leak)\n" + CORRECT,
    "leak-html-js": "from IPython.display import HTML, Javascript, Markdown, display\n"
                    "def _leak(info):\n    display(HTML('<pre>LEAK ' + info.raw_cell + '</pre>'))\n"
                    "    display(Javascript('console.log(`LEAK` + ' + repr(info.raw_cell) + ')'))\n"
                    "    display(Markdown('LEAK ' + info.raw_cell))\n"
                    "get_ipython().events.register('pre_run_cell', _leak)\n" + CORRECT,
    "leak-displayhook": "import sys\ndef _leak(result):\n    sys.displayhook('LEAK ' + result.info.raw_cell)\n"
                        "get_ipython().events.register('post_run_cell', _leak)\n" + CORRECT,
    "leak-other-cell": "from IPython.display import display\n_handle = display('placeholder', display_id=True)\n"
                       "def _leak(info):\n    _handle.update('LEAK ' + info.raw_cell)\n"
                       "get_ipython().events.register('pre_run_cell', _leak)\n" + CORRECT,
    "leak-widget": "import ipywidgets\n_box = ipywidgets.Textarea(value='placeholder')\ndisplay(_box)\n"
                   "def _leak(info):\n    _box.value = 'LEAK ' + info.raw_cell\n"
                   "get_ipython().events.register('pre_run_cell', _leak)\n" + CORRECT,
    "leak-printed-args": "def double(x: float) -> float:\n    print('LEAK argument', x)\n    return 2 * x\n",
    "leak-in-exception": "def double(x: float) -> float:\n    if x not in (3.0, 0.5):\n"
                         "        raise ValueError(f'LEAK hidden point {x}')\n    return 2 * x\n",
}

PAIR_ANSWER = ("def wrap(x: float) -> list:\n    ### BEGIN SOLUTION\n    return [x]\n    ### END SOLUTION\n\n\n"
               "def unwrap(v: list) -> float:\n    ### BEGIN SOLUTION\n    return v[0]\n    ### END SOLUTION")
PAIR_TEST = ("assert unwrap(wrap(2.0)) == 2.0, 'unwrap(wrap(2.0)) should give 2.0 back'\n"
             "### BEGIN HIDDEN TESTS\nassert unwrap(wrap(-7.25)) == -7.25, 'SECRET_HIDDEN_CHECK pair'\n"
             "### END HIDDEN TESTS")
# A blank answer that earns the points inside the kernel: its test cell is emptied by an input transformer,
# and the value it returns is nested exactly as deep as the wire's encoder allows.
DEPTH_ATTACK = ("def _nest(v, depth):\n    for _ in range(depth):\n        v = [v]\n    return v\n\n\n"
                "def wrap(x):\n    return _nest(x, 50)\n\n\ndef unwrap(v):\n    return v\n\n\n"
                "get_ipython().input_transformers_post.append(\n"
                "    lambda lines: [] if any('unwrap' in line for line in lines) else lines)\n")

EVIL_ID = "\ud800\x1b[2J=HYPERLINK(\"http://evil.example\",\"x\")"
FORMULA_STUDENT = '=HYPERLINK("evil.example","click")'  # a folder name: no slash
SCRIPTS = ("<script>alert('XSS-md')</script>\n\n<img src=x onerror=\"alert('XSS-img')\">\n\n"
           "[click](javascript:alert('XSS-link'))")


def _cell(kind: str, source: str, gid: str, points: float = 0) -> nbformat.NotebookNode:
    nbg = {"schema_version": 3, "grade_id": gid, "locked": kind != "answer", "solution": kind == "answer",
           "grade": kind == "test"}
    if kind == "test":
        nbg["points"] = points
    cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
    cell.metadata["nbgrader"] = nbg
    return cell


def _pair_notebook(folder: Path) -> None:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [_cell("markdown", "# pair\n\nWrite `wrap` and `unwrap`.", "intro"),
                _cell("answer", PAIR_ANSWER, "pair-answer"), _cell("test", PAIR_TEST, "pair-test", 2)]
    (folder / "03-pair").mkdir(parents=True)
    nbformat.write(nb, str(folder / "03-pair" / "pair.ipynb"))


def _inspect_notebook(folder: Path) -> None:
    """A test the re-check cannot run: it inspects the student's function object, not what it returns."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [_cell("answer", "def half(x: float) -> float:\n    ### BEGIN SOLUTION\n    return x / 2\n"
                                "    ### END SOLUTION", "half-answer"),
                _cell("test", "assert half.__code__.co_argcount == 1 and half(3.0) == 1.5", "half-test", 1)]
    (folder / "04-inspect").mkdir(parents=True)
    nbformat.write(nb, str(folder / "04-inspect" / "inspect.ipynb"))


def _with_answer(rel, src, code: str):
    nb = solved(rel, src)
    answer_cells(nb)[0].source = code
    return nb


def _save(course: CourseDir, student: str, assignment: str, name: str, data: bytes | nbformat.NotebookNode,
          timestamp: bytes | None = None) -> None:
    folder = course.submitted / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        (folder / f"{name}.ipynb").write_bytes(data)
    else:
        nbformat.write(data, str(folder / f"{name}.ipynb"))
    if timestamp is not None:
        (folder / "timestamp.txt").write_bytes(timestamp)


def _submissions(course: CourseDir) -> None:
    rel = nbformat.read(str(course.release / "01-double" / "double.ipynb"), as_version=4)
    src = nbformat.read(str(course.source / "01-double" / "double.ipynb"), as_version=4)
    honest = solved(rel, src)
    _save(course, "honest", "01-double", "double", honest)
    for name, code in LEAKS.items():
        _save(course, name, "01-double", "double", _with_answer(rel, src, code))

    prel = nbformat.read(str(course.release / "03-pair" / "pair.ipynb"), as_version=4)
    psrc = nbformat.read(str(course.source / "03-pair" / "pair.ipynb"), as_version=4)
    _save(course, "honest", "03-pair", "pair", solved(prel, psrc))
    _save(course, "depth-attack", "03-pair", "pair", _with_answer(prel, psrc, DEPTH_ATTACK))
    irel = nbformat.read(str(course.release / "04-inspect" / "inspect.ipynb"), as_version=4)
    isrc = nbformat.read(str(course.source / "04-inspect" / "inspect.ipynb"), as_version=4)
    _save(course, "honest", "04-inspect", "inspect", solved(irel, isrc))

    # student text meant for the instructor's terminal, spreadsheet and browser
    _save(course, "escape-syntax", "01-double", "double", _with_answer(
        rel, src, CORRECT + "raise SyntaxError('\\x1b]0;pwned\\x07\\x1b[2J Needs your attention: 0')\n"))
    evil = copy.deepcopy(honest)
    added = new_code_cell("import os\n")
    added.metadata["nbgrader"] = {"schema_version": 3, "grade_id": EVIL_ID, "solution": True, "grade": False,
                                  "locked": False}
    evil.cells.append(added)
    _save(course, "evil-grade-id", "01-double", "double", json.dumps(evil).encode("ascii"))  # "\ud800": valid JSON
    _save(course, FORMULA_STUDENT, "01-double", "double", _with_answer(rel, src, "import os\n" + CORRECT))
    page = copy.deepcopy(honest)
    page.metadata["title"] = "</title><script>alert('XSS-title')</script>"
    tagged = new_markdown_cell(SCRIPTS)
    tagged.metadata["tags"] = ['"><script>alert(\'XSS-tag\')</script>']
    raw = new_raw_cell("<script>alert('XSS-raw')</script>")
    raw.metadata["format"] = "text/html"
    page.cells[1:1] = [tagged, raw]
    page.cells[0].attachments = {"x.svg": {"image/svg+xml": "<svg onload=\"alert('XSS-svg')\"></svg>"}}
    answer_cells(page)[0].source = (CORRECT + "from IPython.display import HTML, display\n"
                                    "display(HTML('<img src=x onerror=\"alert(`XSS-out`)\">'))\n")
    _save(course, "html-in-notebook", "01-double", "double", page)

    # one submission's odd files never stop the class
    _save(course, "bad-timestamp", "01-double", "double", honest, timestamp=b"yesterday, after lunch")
    _save(course, "binary-timestamp", "01-double", "double", honest, timestamp=b"\xff\xfe\x00\x1b[2J\xed\xa0\x80")
    _save(course, "impossible-timestamp", "01-double", "double", honest, timestamp=b"2026-13-45 25:61:00")

    # honest students, files saved in odd ways
    text = nbformat.writes(honest)
    _save(course, "utf8-bom", "01-double", "double", b"\xef\xbb\xbf" + text.encode("utf-8"))
    _save(course, "utf16", "01-double", "double", text.encode("utf-16"))
    _save(course, "bom-crlf", "01-double", "double", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    v3 = nbformat.convert(copy.deepcopy(honest), 3)  # convert changes its argument
    _save(course, "nbformat3", "01-double", "double", nbformat.writes(v3, version=3).encode())
    sq_src = nbformat.read(str(course.release / "02-square" / "square.ipynb"), as_version=4)
    copied = copy.deepcopy(honest)
    foreign = copy.deepcopy(answer_cells(sq_src)[0])  # JupyterLab keeps a copied cell's metadata
    copied.cells.insert(3, foreign)
    _save(course, "copied-answer-cell", "01-double", "double", copied)
    copied_test = copy.deepcopy(honest)
    copied_test.cells.append(copy.deepcopy(next(c for c in sq_src.cells if c.metadata["nbgrader"].get("grade"))))
    _save(course, "copied-test-cell", "01-double", "double", copied_test)
    no_id = copy.deepcopy(honest)
    stray = new_markdown_cell("my notes")
    stray.metadata["nbgrader"] = {"schema_version": 3, "task": True, "points": 1}
    no_id.cells.append(stray)
    _save(course, "metadata-without-id", "01-double", "double", no_id)
    twice = copy.deepcopy(honest)
    twice.cells.insert(3, copy.deepcopy(answer_cells(twice)[0]))
    _save(course, "duplicated-answer-cell", "01-double", "double", twice)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    course, _ = released_course(root, edit=lambda notebooks: (_pair_notebook(notebooks), _inspect_notebook(notebooks)))
    _submissions(course)
    printed: list[str] = []
    summary = grade(course, workers=2, cell_timeout=10, progress=printed.append)
    return course, summary, printed


def _results(course: CourseDir) -> dict[tuple[str, str], object]:
    return {(r.student, r.assignment): r for r in load_results(course)}


def _page(course: CourseDir, student: str, assignment: str = "01-double", name: str = "double") -> str:
    return (course.feedback / student / assignment / f"{name}.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ 1. no hidden test leaks
def test_the_honest_feedback_has_none_of_the_hidden_signs(graded):
    course, _, _ = graded
    page = _page(course, "honest")
    assert not [s for s in HIDDEN_SIGNS if s in page]  # so each sign below can only come from a leak
    assert "✓ passed" in page and "Score: 3.0 / 3.0" in page


@pytest.mark.parametrize("attack", list(LEAKS))
def test_no_output_channel_leaks_the_hidden_tests(graded, attack):
    course, _, _ = graded
    r = _results(course)[(attack, "01-double")]
    page = _page(course, attack)
    leaked = [s for s in HIDDEN_SIGNS if s in page]
    assert leaked == [], (attack, leaked)
    assert "application/vnd.jupyter.widget-state" not in page
    # the in-kernel outputs the instructor keeps still show what the attack did
    kept = (course.autograded / attack / "01-double" / "double.ipynb").read_text()
    assert "LEAK" in kept or attack == "leak-widget", attack
    if attack in ("leak-stdout-hook", "leak-html-js", "leak-other-cell", "leak-widget", "leak-printed-args"):
        assert r.score == 3, (attack, r.status, r.cells)  # leaking costs no points: the answer is right


def test_a_failed_hidden_test_shows_a_verdict_not_its_inputs(graded):
    course, _, _ = graded
    r = _results(course)[("leak-in-exception", "01-double")]
    cell = next(c for c in r.cells if c.cell == "double-test")
    assert cell.score == 0
    page = _page(course, "leak-in-exception")
    assert "the hidden tests failed" in page and "-1.5" not in page


def test_a_visible_failure_shows_the_checkers_message(graded):
    course, _, _ = graded
    page = _page(course, "depth-attack", "03-pair", "pair")
    assert "cannot be checked" in page and "-7.25" not in page and "SECRET_HIDDEN_CHECK" not in page


# ------------------------------------------------------------------------ 2. unverifiable is never trusted
def test_a_value_at_the_wire_depth_limit_does_not_keep_the_kernels_score(graded):
    course, _, _ = graded
    results = _results(course)
    attack = results[("depth-attack", "03-pair")]
    assert attack.score == 0, (attack.status, attack.cells)
    # test cells never run in the student's process: no in-kernel pass to keep, the test simply fails
    assert any("cannot be checked" in c.message for c in attack.cells), attack.cells
    assert results[("honest", "03-pair")].score == 2


def test_an_unverifiable_cell_scores_0_and_needs_attention(graded):
    course, summary, _ = graded
    r = _results(course)[("honest", "04-inspect")]
    assert r.score == 0 and r.max_score == 1  # nbgrader's in-kernel pass is not kept
    assert "could not check half-test" in str(r.status) and not r.status.ok
    assert ("honest", "04-inspect") in {(a.student, a.assignment) for a in summary.attention}
    assert "could not be checked automatically" in _page(course, "honest", "04-inspect", "inspect")


# ------------------------------------------------------------------- 5. one submission never stops the class
def test_the_whole_class_is_graded_and_written(graded):
    course, summary, _ = graded
    results = _results(course)
    assert len(results) == 1 + len(LEAKS) + 3 + 15
    rows = list(csv.DictReader(course.grades_csv.open(encoding="utf-8")))
    assert len(rows) == len(results)
    assert (course.grades_csv.read_bytes().decode("utf-8"))  # strict UTF-8: no lone surrogate was written


@pytest.mark.parametrize("student", ["bad-timestamp", "binary-timestamp", "impossible-timestamp"])
def test_a_malformed_timestamp_is_that_submissions_problem_only(graded, student):
    course, _, _ = graded
    r = _results(course)[(student, "01-double")]
    assert r.score == 3 and "timestamp.txt is not a date" in str(r.status) and not r.status.ok
    assert "\x1b" not in str(r.status) and not re.search(r"[\ud800-\udfff]", str(r.status))


def test_a_surrogate_grade_id_breaks_nothing(graded):
    course, _, _ = graded
    r = _results(course)[("evil-grade-id", "01-double")]
    assert r.score == 3, (r.status, r.cells)
    assert all("HYPERLINK" not in f and "\x1b" not in f for f in r.flags) and r.flags  # "cell 6 line 1: imports os"
    text = make_report(course)
    text.encode("utf-8")
    assert "\x1b" not in text
    write_grades_csv(course).read_bytes().decode("utf-8")


def test_a_result_that_cannot_be_recorded_becomes_its_own_attention_row(graded, monkeypatch):
    import autograder.commands.grade as grade_module

    course, _, _ = graded
    real = grade_module._write_scores

    def failing(where, result, *rest):
        if result.student == "utf16":
            raise RuntimeError("the database refused this row")
        return real(where, result, *rest)

    monkeypatch.setattr(grade_module, "_write_scores", failing)
    summary = grade(course, students=["utf16", "utf8-bom"], force=True, workers=2, cell_timeout=10,
                    progress=lambda m: None)
    assert summary.graded == 2
    results = _results(course)
    assert "could not be recorded" in str(results[("utf16", "01-double")].status)
    assert results[("utf8-bom", "01-double")].status.ok
    assert "utf16" in course.grades_csv.read_text()
    monkeypatch.setattr(grade_module, "_write_scores", real)
    again = grade(course, students=["utf16"], workers=1, cell_timeout=10, progress=lambda m: None)
    assert again.graded == 0  # unchanged, but recorded now: the saved result was marked as not in the gradebook
    assert _results(course)[("utf16", "01-double")].gradebook


# ----------------------------------------------------------------------- 6. student text reaches nobody raw
def test_terminal_output_has_no_escape_sequences(graded):
    course, _, printed = graded
    assert not [line for line in printed if "\x1b" in line or "\x07" in line]
    r = _results(course)[("escape-syntax", "01-double")]
    assert "SyntaxError" in str(r.status) and "\x1b" not in str(r.status)
    out = io.StringIO()
    with redirect_stdout(out):
        main(["report", "--course-dir", str(course.root)])
        main(["grade", "--course-dir", str(course.root), "--workers", "1", "--cell-timeout", "10"])
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\\x1b" in text
    assert "Needs your attention: 0" not in text.replace("\\x1b[2J Needs your attention: 0", "")


def test_grades_csv_has_no_formulas(graded):
    course, _, _ = graded
    rows = list(csv.reader(course.grades_csv.open(encoding="utf-8")))
    starts = [cell for row in rows for cell in row if cell[:1] in ("=", "+", "@") or
              (cell[:1] == "-" and not re.fullmatch(r"-\d+(\.\d+)?", cell))]
    assert starts == []
    assert any(row[0] == "'" + FORMULA_STUDENT for row in rows)


def test_feedback_runs_no_student_html_or_script(graded):
    course, _, _ = graded
    page = _page(course, "html-in-notebook")
    honest = _page(course, "honest")
    assert "XSS" in page  # the student's markdown is shown, as text
    assert not re.search(r"<script[^>]*>[^<]*XSS", page)
    handlers = r"<[a-zA-Z][^>]*\son[a-z]+\s*="
    assert len(re.findall(handlers, page)) == len(re.findall(handlers, honest))
    assert not re.search(r"<[a-zA-Z][^>]*XSS", page)  # no tag or attribute of the student's
    assert "javascript:alert" not in page
    assert page.count("<script") == honest.count("<script")
    assert "<title>double</title>" in page


def test_file_names_and_flags_never_hold_student_chosen_ids(graded):
    course, _, _ = graded
    for path in course.feedback.rglob("*"):  # below the student's folder (whose name collect chooses)
        assert not [p for p in path.relative_to(course.feedback).parts[1:] if "HYPERLINK" in p or "\x1b" in p]
    for r in load_results(course):
        for flag in r.flags:
            assert re.match(r"^(cell \d+|[A-Za-z0-9_-]+) line \d+: ", flag), flag


# --------------------------------------------------------------- 7. honest students keep their points
@pytest.mark.parametrize("student", ["utf8-bom", "utf16", "bom-crlf", "nbformat3", "copied-answer-cell",
                                     "copied-test-cell", "metadata-without-id", "duplicated-answer-cell"])
def test_a_correct_notebook_scores_full_marks_however_it_was_saved(graded, student):
    course, _, _ = graded
    r = _results(course)[(student, "01-double")]
    assert r.score == 3, (student, r.status, r.cells)
    assert r.status.ok, r.status
    if student.startswith(("copied", "metadata", "duplicated")):
        assert "nbgrader metadata of cell(s)" in str(r.status) and "dropped" in str(r.status)
    if student in ("utf16", "nbformat3"):
        assert "double.ipynb saved as" in str(r.status)
    # the student's own file is never rewritten
    original = course.submitted / student / "01-double" / "double.ipynb"
    json.loads(original.read_bytes())  # still as they saved it (UTF-16 and BOMs included)


def test_the_visible_checks_pass_every_course_solution():
    """Feedback's own run (hidden parts removed, no references) never fails a correct answer."""
    from autograder.coursedir.course import NOTEBOOKS_DIR, source_assignments
    from autograder.isolation.session import visible_messages

    for assignment in source_assignments(NOTEBOOKS_DIR):
        for path in sorted((NOTEBOOKS_DIR / assignment).glob("*.ipynb")):
            verdicts, problem = visible_messages(path, path, cell_timeout=60)
            assert problem == "" and verdicts, (path.name, problem)
            assert {k: v.message for k, v in verdicts.items() if v.score < v.max_score} == {}, path.name
