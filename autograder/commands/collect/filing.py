"""Filing: which course notebook each upload is, the student's folder, and the submission written in place."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from autograder.commands.collect.layouts import OLDEST, Origin, Submitter
from autograder.commands.collect.sources import CHUNK
from autograder.commands.collect.summary import CollectReport
from autograder.commands.collect.summary import show as _show
from autograder.coursedir.course import CourseDir
from autograder.coursedir.students import STUDENTS_FILE
from autograder.untrusted import printable

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's default ``timestamp_format``


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

@dataclass
class Candidate:
    rel: str  # the entry's path in SOURCE, for messages
    origin: Origin
    staged: Path
    digest: str
    assignment: str = ""
    notebook: str = ""
    how: str = ""


def identify_all(
    candidates: list[Candidate],
    prints: dict[tuple[str, str], set[str]],
    accepted: set[tuple[str, str]],
    report: CollectReport,
) -> list[Candidate]:
    """The assignment and notebook of each candidate; one per (student, assignment, notebook), newest kept."""
    chosen: dict[tuple[Submitter, str, str], Candidate] = {}
    for cand in candidates:
        if not _identify(cand, prints, accepted, report):
            continue
        slot = (cand.origin.student, cand.assignment, cand.notebook)
        if slot in chosen:
            earlier = chosen[slot]
            t_new, t_old = cand.origin.seen or OLDEST, earlier.origin.seen or OLDEST
            keep, drop = (cand, earlier) if t_new >= t_old else (earlier, cand)
            report.skipped.append(f"{_show(drop.rel)}: a second copy of {_show(cand.origin.student.label)}'s "
                                  f"{cand.notebook}; kept the newer {_show(keep.rel)}")
            chosen[slot] = keep
        else:
            chosen[slot] = cand
    return list(chosen.values())


def _identify(
    cand: Candidate,
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


def folder_for(
    student: Submitter,
    records: dict[str, dict[str, str]],
    course: CourseDir,
    report: CollectReport,
    files: list[Candidate],
) -> str | None:
    """The folder under submitted/ for ``student``, recorded in students.json; None on a collision."""
    record = {"id": printable(student.id), "name": printable(student.name), "format": student.format}
    for folder, entry in records.items():
        if entry.get("id") == record["id"] and (entry.get("name", "") == record["name"] or not record["name"]):
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


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_submission(
    course: CourseDir,
    folder: str,
    student: Submitter,
    assignment: str,
    files: list[Candidate],
    when: datetime | None,
    when_how: str,
    report: CollectReport,
) -> None:
    """Write ``files`` as ``submitted/<folder>/<assignment>/`` with nbgrader's ``timestamp.txt`` when ``when``
    is known (none otherwise: no late penalty can be computed); an earlier different copy is archived."""
    dest = course.submitted / folder / assignment
    shown = f"{folder}/{assignment}"
    stamp = when.astimezone(UTC).strftime(TIMESTAMP_FORMAT) + "\n" if when is not None else None
    if dest.exists():
        same = all((dest / f"{c.notebook}.ipynb").is_file() and _digest(dest / f"{c.notebook}.ipynb") == c.digest
                   for c in files)
        if same:
            report.unchanged.extend(f"{shown}/{c.notebook}.ipynb" for c in files)
            _restamp(dest / "timestamp.txt", stamp, shown, when_how, report)
            return
    staging = dest.with_name(f".{assignment}.collecting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for cand in files:
        shutil.copyfile(cand.staged, staging / f"{cand.notebook}.ipynb")
    if stamp is not None:
        (staging / "timestamp.txt").write_text(stamp)
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
    if when is not None:
        report.notes.append(f"{shown}: submitted {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC (from {when_how})")


def _restamp(path: Path, stamp: str | None, shown: str, how: str, report: CollectReport) -> None:
    """Bring an unchanged submission's ``timestamp.txt`` to the LMS's time (given now, say, and not before)."""
    old = path.read_text(errors="replace") if path.is_file() else None
    if stamp is not None and old != stamp:
        path.write_text(stamp)
        report.notes.append(f"{shown}: submitted {stamp.strip()} (from {how})")
