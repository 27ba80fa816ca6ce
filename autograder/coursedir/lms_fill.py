"""The LMS's own grade files, filled in: what ``export --lms-file`` writes for the LMS to import as it is.

* Canvas (Grades → Import): the instructor's gradebook export, cut to ``Student, ID, SIS User ID, SIS Login
  ID, Section`` and the assignment's column, the ``Points Possible`` row kept, each student's cell filled.
  Canvas matches the column by its ``Title (id)`` header (the id is Canvas's own), so the header is copied
  from the export unchanged; a student by ``ID``. A row for a student the record does not hold keeps its
  value (Canvas changes nothing there).
* Every cell not written here stays exactly as the LMS wrote it (the LMS compares them); the cells written
  pass through :func:`autograder.untrusted.for_csv`.
* Moodle (the assignment's "Upload grading worksheet"): the worksheet with ``Grade`` and ``Feedback
  comments`` filled and every other cell as Moodle wrote it. Moodle matches a row by ``Identifier``
  (``Participant <n>``) and skips a row whose grade changed in Moodle after ``Last modified (grade)``, so
  that column is kept as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from autograder.coursedir.lms_files import CANVAS_FIXED, CanvasGradebook, MoodleWorksheet, canvas_title
from autograder.errors import CourseError
from autograder.untrusted import for_csv

__all__ = ["Cell", "canvas_column", "fill_canvas", "fill_moodle"]


@dataclass(frozen=True)
class Cell:
    """One student's grade for the LMS: the score text ("" leaves it blank) and a feedback comment."""

    score: str
    comment: str = ""


def canvas_column(book: CanvasGradebook, assignment: str, title: str | None, where: str) -> int:
    """The index of ``assignment``'s column: the header equal to ``title`` (``Title (id)`` or an exact title),
    else the one titled ``assignment``. A CourseError lists the file's assignment columns when none or two match.
    """
    wanted = (title or assignment).strip()
    columns = list(enumerate(book.header))[len(CANVAS_FIXED):]
    exact = [i for i, h in columns if h == wanted]
    if len(exact) == 1:
        return exact[0]
    titled = [i for i, h in columns if canvas_title(h)[0] == wanted]
    if len(titled) == 1:
        return titled[0]
    listed = ", ".join(repr(h) for _, h in columns if canvas_title(h)[1]) or "none"
    if len(titled) > 1:
        raise CourseError(f"{where}: {len(titled)} columns are titled {wanted!r}; name one by its full header, "
                          f"--column {assignment}='{book.header[titled[0]]}'")
    raise CourseError(f"{where} has no column for {assignment} (looked for {wanted!r}); its assignments are "
                      f"{listed}. Name the Canvas assignment with --column {assignment}='Title (id)'")


def fill_canvas(
    book: CanvasGradebook, columns: Mapping[str, int], grades: Mapping[str, Mapping[str, Cell]]
) -> tuple[list[list[str]], list[str]]:
    """The rows to import, and the Canvas ids of the record's students the export does not list.

    ``columns``: assignment -> column index; ``grades``: Canvas user id -> assignment -> cell.
    """
    keep = list(range(len(CANVAS_FIXED))) + list(columns.values())
    by_index = {i: a for a, i in columns.items()}
    rows = [[book.header[i] for i in keep]]
    listed = set()
    for row in book.rows:
        row = row + [""] * (len(book.header) - len(row))
        sid = row[1].strip()
        first = row[0].strip()
        if first in ("Points Possible", "Manual Posting") or not sid:
            rows.append([row[i] for i in keep])
            continue
        listed.add(sid)
        mine = grades.get(sid, {})
        rows.append([for_csv(mine[by_index[i]].score) if i in by_index and by_index[i] in mine else row[i]
                     for i in keep])
    return rows, sorted(set(grades) - listed)


def fill_moodle(
    sheet: MoodleWorksheet, grades: Mapping[str, Cell]
) -> tuple[list[list[str]], list[str]]:
    """The worksheet with Grade and Feedback comments filled, and the record's students it does not list.

    ``grades``: participant id -> cell (the caller maps each person to this assignment's participant id).
    """
    header = list(sheet.header)
    if "Feedback comments" not in header:
        header.append("Feedback comments")
    rows = [header]
    listed = set()
    for row in sheet.rows:
        pid = sheet.participant(row)
        listed.add(pid)
        out = dict(row)
        if pid in grades:
            out["Grade"] = for_csv(grades[pid].score)
            out["Feedback comments"] = for_csv(grades[pid].comment)
        rows.append([out.get(h, "") for h in header])
    return rows, sorted(set(grades) - listed)
