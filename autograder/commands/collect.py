"""`backprop-course collect SOURCE`: file student notebooks under ``submitted/<student>/<assignment>/``.

SOURCE is a folder or a zip (an LMS download). A file is filed by **where it came from**: its place in
SOURCE says which student handed it in and, where the layout says it, through which assignment's upload
slot. Accepted layouts (after an optional wrapper folder, see below):

* nbgrader's own: ``<student>/<assignment>/<notebook>.ipynb`` (+ ``timestamp.txt``), i.e. a copy of
  ``submitted/``, and the exchange's inbound layout ``<student>+<assignment>+<time>[+<random>]/...``;
* one folder per student: ``<student>/<file>.ipynb`` (the assignment from ``--assignment`` or the zip's name);
* Canvas's "Download Submissions" zip: flat files ``<name>_[LATE_]<user id>_<submission id>_<file>``
  (the student is Canvas's user id, its name part kept for the folder name);
* Moodle's "Download all submissions" zip: folders ``<Full Name>_<participant id>_assignsubmission_file_/``
  or flat files ``<Full Name>_<participant id>_assignsubmission_file_<file>``;
* any other flat file ``<student>_<anything>.ipynb`` (the student id is the text before the first ``_``).

A single top-level folder is unwrapped only when it holds per-student entries (folders that are not
assignments, or files named the LMS way); a student's own folder of assignments is never taken for one.

The assignment comes from the path (``<student>/<assignment>/``, nbgrader's inbound name), else
``--assignment``, else the zip's (or wrapper folder's) name when it names exactly one assignment. Only when
none of these says which assignment is the notebook's content (its nbgrader cell ids) used, and the summary
says so. When the slot and the content disagree (a finished 04 handed in through 01's slot), nothing is
filed: the summary names the file and the flag ``--accept-mismatch STUDENT/ASSIGNMENT`` that files it as
ASSIGNMENT once the instructor agrees. Inside an assignment, a renamed notebook is recognised by content.

Students stay distinct: the LMS's id is the record; the folder name is a short transliteration with a hash
when it had to change (:func:`autograder.untrusted.for_filename`), and ``students.json`` in the course
folder maps each folder to the LMS's id and name (:func:`student_records`). A folder that already belongs
to another student is refused. Each member is streamed with a size cap (``--max-notebook-mb``, counting the
bytes actually decompressed, so a zip bomb is refused after the cap, never read whole). A bad entry is
skipped with a reason and the rest is filed.

The submission time written to ``timestamp.txt`` (nbgrader's format, read by its late-penalty machinery)
comes from a validated ``timestamp.txt`` or nbgrader's inbound folder name, else the zip entry's time
(its UTC extended timestamp when present, else its local time read in ``--timezone``), else the file's
modification time. A malformed ``timestamp.txt`` is reported and ignored. A resubmission never destroys
the earlier one: the earlier folder moves to ``archive/<student>/<assignment>/<time>/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbgrader.utils import parse_utc

from autograder.coursedir.course import CourseDir
from autograder.coursedir.students import STUDENTS_FILE, student_records
from autograder.errors import CourseError
from autograder.fsutil import atomic_write_text
from autograder.untrusted import for_filename, for_terminal, printable

__all__ = [
    "DEFAULT_MAX_NOTEBOOK_BYTES",
    "STUDENTS_FILE",
    "CollectReport",
    "collect",
    "notebook_fingerprints",
    "student_records",
]

MIB = 1024 * 1024
DEFAULT_MAX_NOTEBOOK_BYTES = 50 * MIB
FOLDER_NAME_LENGTH = 40  # keeps submitted/<student>/<assignment>/<notebook> and nbgrader's work paths short
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's default ``timestamp_format``
_CHUNK = 64 * 1024
_MAX_TOTAL_FACTOR = 40  # all members together: at most 40 notebooks' worth of bytes
_CANVAS = re.compile(r"^(?P<name>[^_]+)_(?P<late>LATE_)?(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
_MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_file_$")
_MOODLE_FLAT = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<file>.+)$")
_OLDEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class CollectReport:
    """What ``collect`` did with each file (every student-derived string already safe to print)."""

    placed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A human summary, one line per file that needs attention."""
        lines = [
            f"filed {len(self.placed)} notebook(s), {len(self.unchanged)} unchanged, "
            f"{len(self.archived)} earlier submission(s) archived, {len(self.skipped)} file(s) not placed"
        ]
        lines += [f"  filed: {p}" for p in self.placed]
        lines += [f"  archived: {a}" for a in self.archived]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  NOT PLACED: {s}" for s in self.skipped]
        return "\n".join(lines)


# --- the course's notebooks -------------------------------------------------------------------------


def notebook_fingerprints(source: Path) -> dict[tuple[str, str], set[str]]:
    """``{(assignment, notebook name): grade ids}`` of every source notebook with nbgrader cells."""
    prints: dict[tuple[str, str], set[str]] = {}
    for path in sorted(source.glob("*/*.ipynb")):
        ids = _grade_ids(path)
        if ids:
            prints[(path.parent.name, path.stem)] = ids
    return prints


def _grade_ids(path: Path) -> set[str]:
    try:
        with path.open("rb") as f:
            nb = json.load(f)
        cells = nb.get("cells", []) if isinstance(nb, dict) else []
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return set()
    ids = set()
    for cell in cells if isinstance(cells, list) else []:
        meta = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            ids.add(meta["grade_id"])
    return ids


# --- student records ----------------------------------------------------------------------------------


def _save_records(course: CourseDir, records: dict[str, dict[str, str]]) -> None:
    path = course.root / STUDENTS_FILE
    atomic_write_text(path, json.dumps(dict(sorted(records.items())), indent=1, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class _Student:
    id: str  # the LMS's own id (or the folder name it was handed in under)
    name: str = ""
    format: str = "folder"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id

    def folder(self) -> str:
        text = f"{self.name}-{self.id}" if self.name else self.id
        return for_filename(text, max_length=FOLDER_NAME_LENGTH)


def _show(text: object, limit: int = 90) -> str:
    """Student text for the terminal, long names shortened."""
    s = for_terminal(text)
    return s if len(s) <= limit else s[: limit - 12] + "…" + s[-11:]


# --- the entries of SOURCE --------------------------------------------------------------------------


@dataclass
class _Entry:
    parts: tuple[str, ...]
    mtime: datetime | None
    time_origin: str
    opener: Callable[[], IO[bytes]]
    size: int


class _TooBig(Exception):
    pass


def _zip_time(info: zipfile.ZipInfo, zone: tzinfo) -> tuple[datetime | None, str]:
    """The entry's UTC extended timestamp (0x5455) if present, else its DOS time read in ``zone``."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(struct.unpack("<I", body[1:5])[0], UTC), "the zip entry's time"
        i += 4 + size
    try:
        local = datetime(*info.date_time, tzinfo=zone)
    except ValueError:
        return None, ""
    return local.astimezone(UTC), "the zip entry's time"


def _split(name: str) -> tuple[str, ...]:
    return tuple(p for p in re.split(r"[/\\]+", name) if p not in ("", "."))


def _zip_entries(zf: zipfile.ZipFile, zone: tzinfo, report: CollectReport) -> Iterator[_Entry]:
    for info in zf.infolist():
        if info.is_dir():
            continue
        parts = _split(info.filename)
        if not parts:
            continue
        if ".." in parts or info.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", info.filename):
            report.skipped.append(f"{_show(info.filename)}: a path that leaves the zip's folder; never written")
            continue
        if info.flag_bits & 0x1:
            report.skipped.append(f"{_show(info.filename)}: encrypted in the zip; hand in an unencrypted copy")
            continue
        mtime, origin = _zip_time(info, zone)
        yield _Entry(parts, mtime, origin, lambda info=info: zf.open(info), info.file_size)


def _folder_entries(root: Path, report: CollectReport) -> Iterator[_Entry]:
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                rel = _show((here / d).relative_to(root))
                report.skipped.append(f"{rel}: a symbolic link; links are never followed")
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root)
            if path.is_symlink():
                report.skipped.append(f"{_show(rel)}: a symbolic link, not a file; links are never followed")
                continue
            try:
                st = path.stat()
            except OSError as exc:
                report.skipped.append(f"{_show(rel)}: cannot be read ({exc.strerror})")
                continue
            yield _Entry(rel.parts, datetime.fromtimestamp(st.st_mtime, UTC), "the file's modification time",
                         lambda path=path: path.open("rb"), st.st_size)


def _junk(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


# --- where a file came from ---------------------------------------------------------------------------


@dataclass
class _Origin:
    student: _Student
    assignment: str | None  # the slot the path says, if it says one
    how: str  # how the assignment was known
    submission_key: tuple[str, ...]  # entries sharing it share a timestamp.txt
    time: datetime | None = None
    time_origin: str = ""


def _is_wrapper(children: list[tuple[str, ...]], assignments: set[str], notebooks: set[str]) -> bool:
    """Does a single top folder with these entries (paths below it) hold per-student entries?"""
    for parts in children:
        if len(parts) > 1:
            if parts[0] not in assignments and not _junk(parts[:1]):
                return True
        elif _CANVAS.match(parts[0]) or _MOODLE_FLAT.match(parts[0]):
            return True
        elif "_" in parts[0] and parts[0].endswith(".ipynb"):
            rest = parts[0].split("_", 1)[1].removesuffix(".ipynb")
            if any(rest.endswith(nb) for nb in notebooks):
                return True
    return False


def _named_assignment(name: str, assignments: set[str]) -> str | None:
    norm = "-" + re.sub(r"[^a-z0-9]+", "-", name.lower()) + "-"
    hits = [a for a in assignments if "-" + re.sub(r"[^a-z0-9]+", "-", a.lower()) + "-" in norm]
    return hits[0] if len(hits) == 1 else None


def _inbound(name: str, assignments: set[str]) -> tuple[str, str, str] | None:
    parts = name.split("+")
    if len(parts) in (3, 4) and parts[1] in assignments and parts[0]:
        return parts[0], parts[1], parts[2]
    return None


def _origin(parts: tuple[str, ...], assignments: set[str], default: str | None, default_how: str) -> _Origin | None:
    """Who handed in the file at ``parts`` and through which assignment's slot (None: no student)."""
    top = parts[0]
    if len(parts) >= 2:
        inbound = _inbound(top, assignments)
        if inbound:
            student, assignment, stamp = inbound
            origin = _Origin(_Student(student, format="nbgrader-exchange"), assignment,
                             "nbgrader's inbound folder name", (top,))
            when = _parse_time(stamp)
            if when:
                origin.time, origin.time_origin = when, "nbgrader's inbound folder name"
            return origin
        moodle = _MOODLE_FOLDER.match(top)
        student = _Student(moodle["id"], moodle["name"], "moodle") if moodle else _Student(top)
        if len(parts) >= 3 and parts[1] in assignments:
            return _Origin(student, parts[1], "its folder", (top, parts[1]))
        return _Origin(student, default, default_how, (top,))
    name = parts[0]
    if m := _MOODLE_FLAT.match(name):
        return _Origin(_Student(m["id"], m["name"], "moodle"), default, default_how, (m["id"],))
    if m := _CANVAS.match(name):
        return _Origin(_Student(m["id"], m["name"], "canvas"), default, default_how, (m["id"],))
    if "_" in name:
        sid = name.split("_", 1)[0]
        return _Origin(_Student(sid), default, default_how, (sid,)) if sid else None
    return None


def _parse_time(text: str) -> datetime | None:
    """A submission time (nbgrader's formats), or None when it is not a plausible one."""
    try:
        when = parse_utc(text.strip())
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None
    if not isinstance(when, datetime):
        return None
    when = when.replace(tzinfo=UTC)
    return when if _OLDEST <= when <= datetime.now(UTC) + timedelta(days=1) else None


# --- collect ------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    rel: str  # the entry's path in SOURCE, for messages
    origin: _Origin
    staged: Path
    digest: str
    assignment: str = ""
    notebook: str = ""
    how: str = ""


def _stage(entry: _Entry, dest: Path, cap: int) -> str:
    """Stream ``entry`` into ``dest``, never more than ``cap`` decompressed bytes; return its sha256."""
    digest = hashlib.sha256()
    written = 0
    with entry.opener() as src, dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise _TooBig
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _open_entries(source: Path, zone: tzinfo, report: CollectReport, stack: ExitStack) -> list[_Entry]:
    """The entries of the folder or zip ``source`` (the zip stays open in ``stack``)."""
    if source.is_dir():
        return list(_folder_entries(source, report))
    if not zipfile.is_zipfile(source):
        raise CourseError(f"{source} is neither a folder nor a zip file: give the folder or the LMS zip")
    try:
        zf = stack.enter_context(zipfile.ZipFile(source))
        return list(_zip_entries(zf, zone, report))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise CourseError(f"{source} is a damaged zip ({exc}): download it again from the LMS") from exc


def _accepted(accept: Iterable[str]) -> set[tuple[str, str]]:
    pairs = set()
    for item in accept:
        student, sep, assignment = item.rpartition("/")
        if not sep or not student or not assignment:
            raise CourseError(f"--accept-mismatch {item!r}: write STUDENT/ASSIGNMENT, as the collect summary shows it")
        pairs.add((student, assignment))
    return pairs


def collect(
    course: CourseDir,
    source: Path,
    *,
    assignment: str | None = None,
    accept_mismatch: Iterable[str] = (),
    max_notebook_bytes: int = DEFAULT_MAX_NOTEBOOK_BYTES,
    timezone: str = "UTC",
) -> CollectReport:
    """File every notebook of ``source`` under ``course.submitted``; see the module docstring.

    ``assignment`` names the upload slot of a download that holds one assignment; ``accept_mismatch``
    holds ``STUDENT/ASSIGNMENT`` items: file that student's notebook as ASSIGNMENT although it was handed
    in through another assignment's slot. ``timezone`` reads zip times that carry none.
    """
    source = Path(source)
    if not source.exists():
        raise CourseError(f"{source} does not exist: give the folder or zip of student submissions")
    prints = notebook_fingerprints(course.source)
    if not prints:
        raise CourseError(f"no source notebooks in {course.source}: run `backprop-course release` first")
    assignments = {a for a, _ in prints}
    if assignment is not None and assignment not in assignments:
        raise CourseError(f"--assignment {assignment!r} is not one of this course's assignments: "
                          f"{', '.join(sorted(assignments))}")
    if max_notebook_bytes <= 0:
        raise CourseError("--max-notebook-mb must be positive")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CourseError(f"--timezone {timezone!r} is not a time zone name (e.g. UTC, Europe/Berlin)") from exc
    accepted = _accepted(accept_mismatch)
    records = student_records(course)
    report = CollectReport()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        entries = [e for e in _open_entries(source, zone, report, stack) if not _junk(e.parts)]
        default, default_how = assignment, "--assignment"
        base = 0
        tops = {e.parts[0] for e in entries}
        if len(tops) == 1 and all(len(e.parts) > 1 for e in entries):
            top = next(iter(tops))
            notebooks = {nb for _, nb in prints}
            own = _MOODLE_FOLDER.match(top) or _inbound(top, assignments)  # one student's LMS folder
            if not own and _is_wrapper([e.parts[1:] for e in entries], assignments, notebooks):
                base = 1
                if default is None and (named := _named_assignment(top, assignments)):
                    default, default_how = named, f"the folder name {_show(top)}"
        if default is None and source.is_file() and (named := _named_assignment(source.stem, assignments)):
            default, default_how = named, f"the zip's name {_show(source.name)}"
        candidates, stamps = _read_entries(entries, base, assignments, default, default_how,
                                           max_notebook_bytes, Path(tmp), report)
        chosen = _identify_all(candidates, prints, accepted, report)
        by_submission: dict[tuple[_Student, str], list[_Candidate]] = {}
        for cand in chosen:
            by_submission.setdefault((cand.origin.student, cand.assignment), []).append(cand)
        for (student, assignment_id), files in sorted(by_submission.items(), key=lambda kv: (kv[0][0].id, kv[0][1])):
            folder = _folder_for(student, records, course, report, files)
            if folder is None:
                continue
            when, how = _submission_time(files, stamps, report)
            try:
                _file_submission(course, folder, student, assignment_id, files, when, how, report)
            except OSError as exc:
                report.skipped.append(f"{_show(student.label)}/{assignment_id}: could not be written "
                                      f"({exc.strerror or exc}); nothing of it was changed")
        _save_records(course, records)
    return report


def _read_entries(
    entries: list[_Entry],
    base: int,
    assignments: set[str],
    default: str | None,
    default_how: str,
    cap: int,
    tmp: Path,
    report: CollectReport,
) -> tuple[list[_Candidate], dict[tuple[str, ...], tuple[datetime | None, str]]]:
    """Stage every notebook (streamed, capped) and read every timestamp.txt; skip the rest with a reason."""
    candidates: list[_Candidate] = []
    stamps: dict[tuple[str, ...], tuple[datetime | None, str]] = {}
    budget = cap * _MAX_TOTAL_FACTOR
    for n, entry in enumerate(entries):
        parts = entry.parts[base:]
        rel = "/".join(entry.parts)
        if parts[-1] == "timestamp.txt":
            origin = _origin(parts, assignments, default, default_how)
            if origin is not None:
                stamps[origin.submission_key] = _read_timestamp(entry, rel, report)
            continue
        if not parts[-1].endswith(".ipynb"):
            report.skipped.append(f"{_show(rel)}: not a notebook (.ipynb); nothing to grade")
            continue
        origin = _origin(parts, assignments, default, default_how)
        if origin is None:
            report.skipped.append(f"{_show(rel)}: no student id (use <student>/<file>.ipynb or "
                                  "<student>_<file>.ipynb, or the LMS's download as it is)")
            continue
        origin.time = origin.time or entry.mtime
        origin.time_origin = origin.time_origin or entry.time_origin
        total = f"not unpacked, the download gave more than {cap * _MAX_TOTAL_FACTOR / MIB:g} MiB of notebooks " \
                "(split it, or raise --max-notebook-mb)"
        if budget <= 0:
            report.skipped.append(f"{_show(rel)}: {total}")
            continue
        staged = tmp / f"{n}.ipynb"
        try:
            digest = _stage(entry, staged, min(cap, budget))
        except _TooBig:
            staged.unlink(missing_ok=True)
            report.skipped.append(f"{_show(rel)}: {total}" if budget < cap else
                                  f"{_show(rel)}: larger than {cap / MIB:g} MiB once unpacked (refused after "
                                  "that many bytes; --max-notebook-mb raises the limit for one notebook)")
            continue
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            staged.unlink(missing_ok=True)
            report.skipped.append(f"{_show(rel)}: cannot be unpacked ({_show(exc, 120)}); ask for it again")
            continue
        budget -= staged.stat().st_size
        candidates.append(_Candidate(rel, origin, staged, digest))
    return candidates, stamps


def _read_timestamp(entry: _Entry, rel: str, report: CollectReport) -> tuple[datetime | None, str]:
    try:
        with entry.opener() as f:
            raw = f.read(200)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
        raw = b""
    text = raw.decode("utf-8", "replace")
    when = _parse_time(text) if len(raw) < 200 else None
    if when is None:
        report.notes.append(f"{_show(rel)}: {_show(text.strip(), 40)!r} is not a valid submission time; "
                            "ignored (the entry's own time is used)")
        return None, ""
    return when, "timestamp.txt"


def _identify_all(
    candidates: list[_Candidate],
    prints: dict[tuple[str, str], set[str]],
    accepted: set[tuple[str, str]],
    report: CollectReport,
) -> list[_Candidate]:
    """The assignment and notebook of each candidate; one per (student, assignment, notebook), newest kept."""
    chosen: dict[tuple[_Student, str, str], _Candidate] = {}
    for cand in candidates:
        if not _identify(cand, prints, accepted, report):
            continue
        slot = (cand.origin.student, cand.assignment, cand.notebook)
        if slot in chosen:
            earlier = chosen[slot]
            t_new, t_old = cand.origin.time or _OLDEST, earlier.origin.time or _OLDEST
            keep, drop = (cand, earlier) if t_new >= t_old else (earlier, cand)
            report.skipped.append(f"{_show(drop.rel)}: a second copy of {_show(cand.origin.student.label)}'s "
                                  f"{cand.notebook}; kept the newer {_show(keep.rel)}")
            chosen[slot] = keep
        else:
            chosen[slot] = cand
    return list(chosen.values())


def _identify(
    cand: _Candidate,
    prints: dict[tuple[str, str], set[str]],
    accepted: set[tuple[str, str]],
    report: CollectReport,
) -> bool:
    ids = _grade_ids(cand.staged)
    student = cand.origin.student
    stem = Path(cand.rel.replace("\\", "/").rsplit("/", 1)[-1]).stem
    best = max(prints, key=lambda k: (len(ids & prints[k]), k[1] == stem)) if ids else None
    best = best if best is not None and ids & prints[best] else None
    slot = cand.origin.assignment
    if slot is None:
        if best is None:
            report.skipped.append(f"{_show(cand.rel)}: the upload does not say which assignment and the "
                                  "content is not a course notebook; give --assignment")
            return False
        cand.assignment, cand.notebook, cand.how = *best, "by content"
        report.notes.append(f"{_show(cand.rel)}: the upload does not say which assignment; filed as {best[0]} by "
                            "its content (give --assignment with each LMS download to file by slot)")
        return True
    in_slot = {k: v for k, v in prints.items() if k[0] == slot}
    slot_best = max(in_slot, key=lambda k: (len(ids & in_slot[k]), k[1] == stem))
    if best is not None and best[0] != slot and len(ids & prints[best]) > len(ids & in_slot[slot_best]):
        wanted = {(student.id, best[0]), (student.folder(), best[0]), (student.name, best[0])}
        if wanted & accepted:
            cand.assignment, cand.notebook = best
            cand.how = f"handed in through {slot}'s slot; filed as {best[0]} by --accept-mismatch"
            return True
        report.skipped.append(
            f"{_show(cand.rel)}: handed in by {_show(student.label)} as {slot} (from {cand.origin.how}) but it is "
            f"{best[0]}'s notebook {best[1]}; not filed. If it should count as {best[0]}, run collect again with "
            f"--accept-mismatch {_show(student.id)}/{best[0]}")
        return False
    if ids & in_slot[slot_best]:
        cand.assignment, cand.notebook = slot_best
        cand.how = "by content" if slot_best[1] != stem else ""
    elif (slot, stem) in in_slot:
        cand.assignment, cand.notebook, cand.how = slot, stem, "by file name (its content is not a readable notebook)"
    elif len(in_slot) == 1:
        cand.assignment, cand.notebook = next(iter(in_slot))
        cand.how = f"the only notebook of {slot} (its content is not a readable course notebook)"
    else:
        report.skipped.append(f"{_show(cand.rel)}: not recognised as any of {slot}'s notebooks")
        return False
    return True


def _folder_for(
    student: _Student,
    records: dict[str, dict[str, str]],
    course: CourseDir,
    report: CollectReport,
    files: list[_Candidate],
) -> str | None:
    """The folder under submitted/ for ``student``, recorded in students.json; None on a collision."""
    record = {"id": printable(student.id), "name": printable(student.name), "format": student.format}
    for folder, known in records.items():
        if known.get("id") == record["id"] and known.get("name", "") == record["name"]:
            return folder
    folder = student.folder()
    known = records.get(folder)
    taken_unrecorded = known is None and (course.submitted / folder).exists() and folder != student.id
    if known is not None or taken_unrecorded:
        other = _show(known["id"] if known else folder)
        report.skipped.extend(f"{_show(c.rel)}: the folder name {folder} already belongs to another student "
                              f"({other}); not filed, so neither submission is mixed up. Rename one "
                              f"folder under submitted/ and its entry in {STUDENTS_FILE}" for c in files)
        return None
    records[folder] = record
    return folder


def _submission_time(
    files: list[_Candidate],
    stamps: dict[tuple[str, ...], tuple[datetime | None, str]],
    report: CollectReport,
) -> tuple[datetime, str]:
    for cand in files:
        when, how = stamps.get(cand.origin.submission_key, (None, ""))
        if when is not None:
            return when, how
    timed = [c for c in files if c.origin.time is not None]
    if timed:
        latest = max(timed, key=lambda c: c.origin.time)
        return latest.origin.time, latest.origin.time_origin
    return datetime.now(UTC), "the collect time (the upload carries no time)"


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_submission(
    course: CourseDir,
    folder: str,
    student: _Student,
    assignment: str,
    files: list[_Candidate],
    when: datetime,
    when_how: str,
    report: CollectReport,
) -> None:
    dest = course.submitted / folder / assignment
    shown = f"{folder}/{assignment}"
    if dest.exists():
        same = all((dest / f"{c.notebook}.ipynb").is_file() and _digest(dest / f"{c.notebook}.ipynb") == c.digest
                   for c in files)
        if same:
            report.unchanged.extend(f"{shown}/{c.notebook}.ipynb" for c in files)
            return
    staging = dest.with_name(f".{assignment}.collecting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for cand in files:
        shutil.copyfile(cand.staged, staging / f"{cand.notebook}.ipynb")
    (staging / "timestamp.txt").write_text(when.astimezone(UTC).strftime(TIMESTAMP_FORMAT) + "\n")
    if dest.exists():
        stamp_file = dest / "timestamp.txt"
        previous = stamp_file.read_text(errors="replace").strip()[:60] if stamp_file.is_file() else "earlier"
        target = course.archive / folder / assignment / (re.sub(r"[^0-9A-Za-z.-]+", "_", previous) or "earlier")
        n = 1
        while target.exists():
            n += 1
            target = target.with_name(f"{target.name.split('~')[0]}~{n}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(dest), str(target))
        report.archived.append(f"{shown} (submitted {_show(previous)}) -> {target.relative_to(course.root)}")
    staging.rename(dest)
    for cand in files:
        name = cand.rel.rsplit("/", 1)[-1]
        detail = [d for d in (f"from {_show(name)}" if name != f"{cand.notebook}.ipynb" else "", cand.how) if d]
        who = f" [{_show(student.label)}]" if student.folder() != student.id else ""
        report.placed.append(f"{shown}/{cand.notebook}.ipynb{who}" + (f" ({', '.join(detail)})" if detail else ""))
    report.notes.append(f"{shown}: submitted {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC (from {when_how})")
