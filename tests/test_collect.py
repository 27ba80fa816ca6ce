"""`backprop-course collect`: files by where a file came from, keeps students apart, never stops or bloats.

Each LMS download is built in the test. Pure tests (no kernel) except the last, which grades once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.commands.collect import FOLDER_NAME_LENGTH, MIB, collect
from autograder.coursedir.course import CourseDir
from autograder.coursedir.students import student_records
from testkit.pipeline_fixture import make_course_notebooks


@pytest.fixture
def course(tmp_path: Path) -> CourseDir:
    """A course folder whose source/ holds 01-double/double.ipynb and 02-square/square.ipynb."""
    notebooks = make_course_notebooks(tmp_path / "repo")
    c = CourseDir.at(tmp_path / "course")
    shutil.copytree(notebooks, c.source)
    return c


def notebook(course: CourseDir, assignment: str, finished: bool = True) -> bytes:
    """A student's notebook of ``assignment``: the solution, or (unfinished) the stub in its place."""
    name = {"01-double": "double", "02-square": "square"}[assignment]
    text = (course.source / assignment / f"{name}.ipynb").read_text()
    if not finished:
        nb = json.loads(text)
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = f"def {name}(x):\n    raise NotImplementedError()"
        text = json.dumps(nb)
    return text.encode()


def make_zip(path: Path, members: dict[str, bytes], when: tuple[int, ...] = (2026, 3, 1, 12, 0, 0)) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data, zipfile.ZIP_DEFLATED)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_of(course: CourseDir, lms_id: str) -> str:
    return next(f for f, r in student_records(course).items() if r["id"] == lms_id)


def test_work_handed_in_through_another_slot_is_not_moved_without_the_instructors_word(course, tmp_path, capsys):
    # on time: an unfinished 02 through 02's slot (Canvas names: <name>_<user id>_<submission id>_<file>)
    on_time = make_zip(tmp_path / "submissions 02-square.zip",
                       {"mullera_101_9001_square.ipynb": notebook(course, "02-square", finished=False)},
                       when=(2026, 3, 1, 10, 0, 0))
    first = collect(course, on_time)
    folder = folder_of(course, "101")
    filed = course.submitted / folder / "02-square" / "square.ipynb"
    assert len(first.placed) == 1 and not first.skipped
    unfinished = sha(filed)
    # after 02's deadline, the finished 02 through 01's upload slot
    late = make_zip(tmp_path / "submissions 01-double.zip",
                    {"mullera_LATE_101_9002_square.ipynb": notebook(course, "02-square")},
                    when=(2026, 3, 9, 23, 0, 0))
    assert main(["collect", str(late), "--course-dir", str(course.root)]) == 1
    out = capsys.readouterr().out
    assert "as 01-double (from the zip's name" in out and "it is 02-square's notebook square" in out
    assert "--accept-mismatch 101/02-square" in out
    assert sha(filed) == unfinished, "the on-time submission is untouched"
    assert not (course.submitted / folder / "01-double").exists() and not course.archive.exists()
    # the instructor agrees: it is filed as 02-square with its own (late) time; the earlier copy is archived
    report = collect(course, late, accept_mismatch=["101/02-square"])
    assert sha(filed) == hashlib.sha256(notebook(course, "02-square")).hexdigest()
    assert "filed as 02-square by --accept-mismatch" in report.placed[0]
    # Canvas marks it LATE_ but the zip holds no time the LMS vouches for: no timestamp, and the summary says so
    assert not (course.submitted / folder / "02-square" / "timestamp.txt").exists()
    assert any("Canvas marks it LATE_" in n for n in report.notes)
    archived = list((course.archive / folder / "02-square").glob("*/square.ipynb"))
    assert [sha(a) for a in archived] == [unfinished]


def test_an_explicit_assignment_is_the_slot_for_a_folder_per_student(course, tmp_path):
    src = tmp_path / "download" / "anna"
    src.mkdir(parents=True)
    (src / "square.ipynb").write_bytes(notebook(course, "02-square"))
    report = collect(course, tmp_path / "download", assignment="01-double")
    assert not course.submitted.exists() or not any(course.submitted.iterdir())
    assert "as 01-double (from --assignment)" in report.skipped[0]
    (src / "square.ipynb").write_bytes(notebook(course, "01-double"))
    (src / "square.ipynb").rename(src / "my homework.ipynb")
    report = collect(course, tmp_path / "download", assignment="01-double")
    assert (course.submitted / "anna" / "01-double" / "double.ipynb").exists() and not report.skipped


def test_a_zip_of_one_students_folder_is_not_taken_for_a_wrapper(course, tmp_path):
    one = make_zip(tmp_path / "anna.zip", {"anna/01-double/double.ipynb": notebook(course, "01-double"),
                                           "anna/02-square/square.ipynb": notebook(course, "02-square")})
    report = collect(course, one)
    assert sorted(p.name for p in course.submitted.iterdir()) == ["anna"]
    assert (course.submitted / "anna" / "01-double" / "double.ipynb").exists()
    assert (course.submitted / "anna" / "02-square" / "square.ipynb").exists()
    assert len(report.placed) == 2 and not report.skipped
    # a real wrapper (a folder of student folders) is unwrapped
    wrapped = make_zip(tmp_path / "export.zip", {"export/bob/01-double/double.ipynb": notebook(course, "01-double"),
                                                 "export/cleo/01-double/double.ipynb": notebook(course, "01-double")})
    collect(course, wrapped)
    assert sorted(p.name for p in course.submitted.iterdir()) == ["anna", "bob", "cleo"]
    # one student's Moodle folder, with a sub-folder of their own, is that student's
    moodle = make_zip(tmp_path / "01-double.zip",
                      {"Dee_77_assignsubmission_file_/work/double.ipynb": notebook(course, "01-double")})
    report = collect(course, moodle)
    assert not report.skipped and [r["id"] for r in student_records(course).values()].count("77") == 1
    assert (course.submitted / folder_of(course, "77") / "01-double" / "double.ipynb").exists()


def test_two_annas_stay_two_students_and_a_taken_folder_is_refused(course, tmp_path):
    # Moodle: <Full Name>_<participant id>_assignsubmission_file_/<file>, the zip named after the assignment
    moodle = make_zip(tmp_path / "CS101-01-double-42.zip", {
        "Anna Müller_1001_assignsubmission_file_/double.ipynb": notebook(course, "01-double"),
        "Anna Möller_1002_assignsubmission_file_/double.ipynb": notebook(course, "01-double", finished=False),
    })
    report = collect(course, moodle)
    records = student_records(course)
    assert sorted((r["id"], r["name"], r["format"]) for r in records.values()) == [
        ("1001", "Anna Müller", "moodle"), ("1002", "Anna Möller", "moodle")]
    assert len(report.placed) == 2 and not report.skipped
    mueller, moeller = folder_of(course, "1001"), folder_of(course, "1002")
    assert mueller != moeller and mueller.startswith("Anna-Muller") and moeller.startswith("Anna-Moller")
    assert sha(course.submitted / mueller / "01-double" / "double.ipynb") != sha(
        course.submitted / moeller / "01-double" / "double.ipynb")
    # folder names without ids: still two students
    plain = make_zip(tmp_path / "plain.zip", {"Anna Müller/02-square/square.ipynb": notebook(course, "02-square"),
                                              "Anna Möller/02-square/square.ipynb": notebook(course, "02-square")})
    collect(course, plain)
    assert len({folder_of(course, "Anna Müller"), folder_of(course, "Anna Möller")}) == 2
    # someone whose id is exactly Anna Müller's folder name is refused, not mixed into her folder
    before = sha(course.submitted / mueller / "01-double" / "double.ipynb")
    clash = make_zip(tmp_path / "clash.zip", {f"{mueller}/01-double/double.ipynb": notebook(course, "01-double",
                                                                                             finished=False)})
    report = collect(course, clash)
    assert not report.placed and "already belongs to another student (1001)" in report.skipped[0]
    assert sha(course.submitted / mueller / "01-double" / "double.ipynb") == before


def test_a_300_character_name_and_a_file_named_like_a_folder_are_skipped_or_filed_never_fatal(course, tmp_path):
    long_name = "x" * 300 + ".ipynb"
    odd = make_zip(tmp_path / "odd.zip", {
        f"bob/01-double/{long_name}": notebook(course, "01-double"),
        "carl/01-double": b"a file where a folder should be",
        "carl/01-double/double.ipynb": notebook(course, "01-double"),
        f"{'y' * 300}_double.ipynb": b"{not json",
        "dora/01-double/double.ipynb": notebook(course, "01-double"),
        "dora/01-double/double.ipynb/double.ipynb": notebook(course, "01-double"),
    })
    report = collect(course, odd)
    for student in ("bob", "carl", "dora"):
        assert (course.submitted / student / "01-double" / "double.ipynb").exists(), student
    assert any(s.startswith("carl/01-double: not a notebook") for s in report.skipped)
    assert any("a second copy of dora's double" in s for s in report.skipped)
    assert any("not a course notebook" in s for s in report.skipped)  # the 300-character flat name
    assert all(len(line) < 400 for line in report.summary().splitlines())


def test_a_zip_bomb_is_refused_after_the_cap_with_bounded_memory(course, tmp_path):
    bomb = tmp_path / "bomb.zip"
    zeros = bytes(MIB)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("eve/01-double/double.ipynb", "w") as member:
            for _ in range(256):  # 256 MiB of zeros, 5x the cap (benchmarks/collect_memory.py measures 1 GiB)
                member.write(zeros)
        zf.writestr("finn/01-double/double.ipynb", notebook(course, "01-double"))
    del zeros
    assert bomb.stat().st_size < 2 * MIB
    tracemalloc.start()
    report = collect(course, bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"zip bomb: {bomb.stat().st_size / MIB:.2f} MiB zip with a 256 MiB member; "
          f"collect peak Python memory {peak / MIB:.2f} MiB")
    assert peak < 8 * MIB
    assert any(s.startswith("eve/01-double/double.ipynb: larger than 50 MiB") for s in report.skipped)
    assert not (course.submitted / "eve").exists()
    assert (course.submitted / "finn" / "01-double" / "double.ipynb").exists()  # the class goes on


def test_a_header_that_understates_the_size_is_not_trusted(course, tmp_path):
    lying = tmp_path / "lying.zip"
    with zipfile.ZipFile(lying, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("gus/01-double/double.ipynb", bytes(20 * MIB))
        zf.writestr("hal/01-double/double.ipynb", notebook(course, "01-double"))
    data = bytearray(lying.read_bytes())
    struct.pack_into("<I", data, 22, 1000)  # first local header: uncompressed size
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, 1000)  # its central directory entry
    lying.write_bytes(bytes(data))
    report = collect(course, lying, max_notebook_bytes=MIB)
    assert any(s.startswith("gus/01-double/double.ipynb: cannot be unpacked") for s in report.skipped)
    assert (course.submitted / "hal" / "01-double" / "double.ipynb").exists()


def test_the_cap_counts_decompressed_bytes_and_is_configurable(course, tmp_path, capsys):
    big = make_zip(tmp_path / "big.zip", {"ivy/01-double/double.ipynb": notebook(course, "01-double") + b" " * 3 * MIB})
    assert main(["collect", str(big), "--course-dir", str(course.root), "--max-notebook-mb", "2"]) == 1
    assert "larger than 2 MiB once unpacked" in capsys.readouterr().out
    assert main(["collect", str(big), "--course-dir", str(course.root), "--max-notebook-mb", "4"]) == 0


def test_a_students_timestamp_txt_and_the_zip_entry_time_are_never_a_submission_time(course, tmp_path):
    src = make_zip(tmp_path / "times.zip", {
        "ann/01-double/double.ipynb": notebook(course, "01-double"),
        "ann/01-double/timestamp.txt": b"2026-02-03 04:05:06.000007 UTC\n",  # backdated by the student
        "ben/01-double/double.ipynb": notebook(course, "01-double"),
        "dan+01-double+2026-02-04 08:00:00.000000 UTC+x1y2/double.ipynb": notebook(course, "01-double"),
    }, when=(2026, 2, 5, 9, 30, 0))
    report = collect(course, src)
    for student in ("ann", "ben", "dan"):  # a zip keeps no owner, so not even the exchange name is trusted
        assert (course.submitted / student / "01-double" / "double.ipynb").exists()
        assert not (course.submitted / student / "01-double" / "timestamp.txt").exists(), student
    assert any("timestamp.txt in the upload is the student's text" in n for n in report.notes)
    assert sum("no submission time the LMS vouches for" in n for n in report.notes) == 3
    times = json.loads((course.root / "submission-times.json").read_text())
    assert "no late penalty computed" in times["ann"]["01-double"]["missing"]


def test_a_resubmission_archives_the_earlier_copy_and_the_same_files_again_change_nothing(course, tmp_path):
    first = make_zip(tmp_path / "a.zip", {"kim/01-double/double.ipynb": notebook(course, "01-double", finished=False)},
                     when=(2026, 3, 1, 8, 0, 0))
    second = make_zip(tmp_path / "b.zip", {"kim/01-double/double.ipynb": notebook(course, "01-double")},
                      when=(2026, 3, 2, 8, 0, 0))
    collect(course, first, submitted_at="2026-03-01 08:00")  # the instructor vouches for the time
    report = collect(course, second)
    assert len(report.archived) == 1
    (earlier,) = (course.archive / "kim" / "01-double").iterdir()
    assert earlier.name == "2026-03-01_08_00_00.000000_UTC"
    assert sha(earlier / "double.ipynb") == hashlib.sha256(notebook(course, "01-double", finished=False)).hexdigest()
    again = collect(course, second)
    assert again.unchanged and not again.placed and len(list((course.archive / "kim" / "01-double").iterdir())) == 1


def test_bad_flags_get_a_clear_error(course, tmp_path, capsys):
    src = make_zip(tmp_path / "s.zip", {"kim/01-double/double.ipynb": notebook(course, "01-double")})
    for flags, message in ((["--accept-mismatch", "kim"], "write STUDENT/ASSIGNMENT"),
                           (["--assignment", "99-nope"], "not one of this course's assignments"),
                           (["--timezone", "Mars/Olympus"], "is not a time zone name")):
        assert main(["collect", str(src), "--course-dir", str(course.root), *flags]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.grading
def test_a_240_character_student_id_is_collected_with_a_short_folder_and_graded(tmp_path):
    from autograder.commands.grade import grade, load_results
    from autograder.commands.release import release
    from autograder.commands.sample_class import make_sample_class

    notebooks = make_course_notebooks(tmp_path / "repo")
    course = CourseDir.at(tmp_path / "course")
    release(course, notebooks, progress=lambda m: None)
    make_sample_class(course.release, course.source, tmp_path / "class", ["01-double"], ["correct"])
    lms_id = "student-" + "é" * 10 + "z" * 222
    assert len(lms_id) == 240
    solved = (tmp_path / "class" / "s01-correct" / "01-double" / "double.ipynb").read_bytes()
    src = make_zip(tmp_path / "lms.zip", {f"{lms_id}/01-double/double.ipynb": solved})
    collect(course, src)
    folder = folder_of(course, lms_id)
    assert len(folder) <= FOLDER_NAME_LENGTH
    grade(course, workers=1, cell_timeout=20, progress=lambda m: None)
    (result,) = load_results(course)
    assert (result.student, result.assignment, result.score) == (folder, "01-double", 3)


def test_a_download_has_a_total_limit_too(course, tmp_path):
    padded = notebook(course, "01-double") + b" " * (60 * 1024 - len(notebook(course, "01-double")))
    src = make_zip(tmp_path / "many.zip", {f"s{i:02d}/01-double/double.ipynb": padded for i in range(45)})
    report = collect(course, src, max_notebook_bytes=64 * 1024)
    over = [s for s in report.skipped if "not unpacked, the download gave more than 2.5 MiB" in s]
    assert len(report.placed) == 42 and len(over) == 3  # 42 x 60 KiB fit in 40 x 64 KiB
