"""Each student's feedback holds MathJax, linked to the course's own copy, never to the installed package's files.

A hard link to the package's files shares their inodes with every course graded on the machine: a link made
there for another course changes their ctime, and ``tar`` of this course's feedback (docs/deploy.md, "Grading
on several machines", step 4) then exits 1 with "file changed as we read it". It did, in the full test suite.
"""

from __future__ import annotations

import multiprocessing
import subprocess
from pathlib import Path

from autograder.grading.feedback_page import make_self_contained, mathjax_static, place_mathjax


def _inode(path: Path) -> int:
    return path.stat().st_ino


def test_students_link_to_the_courses_copy_and_never_to_the_package(tmp_path):
    course_copy = tmp_path / "course" / ".grading" / "mathjax"
    ada = place_mathjax(tmp_path / "course" / "feedback" / "ada", course_copy)
    bob = place_mathjax(tmp_path / "course" / "feedback" / "bob", course_copy)
    package = mathjax_static()
    for rel in ("MathJax.js", "config/TeX-AMS-MML_HTMLorMML-full.js"):
        assert (ada / rel).read_bytes() == (package / rel).read_bytes()
        assert _inode(ada / rel) != _inode(package / rel)
        assert _inode(ada / rel) in (_inode(bob / rel), _inode(course_copy / rel)) or \
            (ada / rel).stat().st_nlink == 1  # a file system without hard links: plain copies
    assert not list(course_copy.parent.glob(".*.part"))


def test_another_course_graded_later_changes_nothing_tar_reads_here(tmp_path):
    feedback = tmp_path / "course" / "feedback"
    page = feedback / "ada" / "01-double"
    page.mkdir(parents=True)
    (page / "double.html").write_text('<script src="https://cdn.example/mathjax/MathJax.js"></script>')
    make_self_contained(page, tmp_path / "course" / ".grading" / "mathjax")
    assert "../mathjax/MathJax.js" in (page / "double.html").read_text()
    files = sorted(p for p in feedback.rglob("*") if p.is_file())
    before = {p: p.stat().st_ctime_ns for p in files}
    # another course on this machine gets its feedback (tar compares each file's ctime before and after reading)
    place_mathjax(tmp_path / "other" / "feedback" / "cleo", tmp_path / "other" / ".grading" / "mathjax")
    changed = [p for p in files if p.stat().st_ctime_ns != before[p]]
    assert not changed, f"{len(changed)} files changed, e.g. {changed[:3]}"
    tar = subprocess.run(["tar", "-C", str(tmp_path / "course"), "-c", "feedback"], capture_output=True)
    assert tar.returncode == 0 and len(tar.stdout) > 1_000_000, tar.stderr


def _place(args: tuple[str, str]) -> str:
    return str(place_mathjax(Path(args[0]), Path(args[1])))


def test_workers_making_the_course_copy_at_once_leave_one_whole_copy(tmp_path):
    course_copy = tmp_path / ".grading" / "mathjax"
    jobs = [(str(tmp_path / "feedback" / f"s{i}"), str(course_copy)) for i in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        placed = pool.map(_place, jobs)
    package = sorted(p.relative_to(mathjax_static()) for p in mathjax_static().rglob("*") if p.is_file())
    for folder in [course_copy, *map(Path, placed)]:
        assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == package
    assert not list(course_copy.parent.glob(".*.part"))
