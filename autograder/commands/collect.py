"""`backprop-course collect SOURCE`: file student notebooks under ``submitted/<student>/<assignment>/``.

SOURCE is a folder or a zip (an LMS download). Two layouts are understood:

* one folder per student: ``SOURCE/<student>/[<assignment>/]<anything>.ipynb``;
* flat files named ``<student>_<anything>.ipynb`` (the student id is the text before the first ``_``).

Which assignment and notebook a file is comes from its content (the nbgrader cell ids it carries),
so a renamed notebook or one handed in under the wrong assignment is still filed correctly; only a file
whose content cannot be read falls back to its name. A resubmission never destroys the earlier one: the
earlier folder moves to ``archive/<student>/<assignment>/<time>/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError

__all__ = ["CollectReport", "collect", "notebook_fingerprints"]

_STUDENT_OK = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class CollectReport:
    """What ``collect`` did with each file."""

    placed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A human summary, one line per file that needs attention."""
        lines = [
            f"filed {len(self.placed)} notebook(s), {len(self.unchanged)} unchanged, "
            f"{len(self.archived)} earlier submission(s) archived, {len(self.skipped)} file(s) not placed"
        ]
        lines += [f"  filed: {p}" for p in self.placed]
        lines += [f"  archived: {a}" for a in self.archived]
        lines += [f"  NOT PLACED: {s}" for s in self.skipped]
        return "\n".join(lines)


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
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb.get("cells", []) if isinstance(nb, dict) else []
    except (OSError, UnicodeDecodeError, ValueError):
        return set()
    ids = set()
    for cell in cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            ids.add(meta["grade_id"])
    return ids


def _identify(path: Path, prints: dict[tuple[str, str], set[str]]) -> tuple[tuple[str, str] | None, str]:
    """The (assignment, notebook) a file is, and how it was recognised."""
    ids = _grade_ids(path)
    if ids:
        best = max(prints, key=lambda k: (len(ids & prints[k]), k == (path.parent.name, path.stem)))
        if ids & prints[best]:
            return best, "by content"
    by_name = [k for k in prints if path.stem.endswith(k[1])]
    if len(by_name) == 1:
        return by_name[0], "by file name (its content is not a readable course notebook)"
    return None, ""


def _student_of(path: Path, root: Path) -> str | None:
    rel = path.relative_to(root)
    raw = rel.parts[0] if len(rel.parts) > 1 else (rel.name.split("_", 1)[0] if "_" in rel.name else None)
    if not raw:
        return None
    student = _STUDENT_OK.sub("-", raw).strip("-.")
    return student or None


def _unpack(source: Path, workdir: Path) -> Path:
    if source.is_dir():
        return source
    if not zipfile.is_zipfile(source):
        raise CourseError(f"{source} is neither a folder nor a zip file: give the folder or the LMS zip")
    out = workdir / "unzipped"
    with zipfile.ZipFile(source) as zf:
        for info in zf.infolist():
            target = (out / info.filename).resolve()
            if not target.is_relative_to(out.resolve()):
                continue  # a path that escapes the folder ("zip slip") is never written
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
    entries = [p for p in out.iterdir() if not p.name.startswith(("__MACOSX", "."))] if out.exists() else []
    return entries[0] if len(entries) == 1 and entries[0].is_dir() and _looks_wrapped(entries[0]) else out


def _looks_wrapped(folder: Path) -> bool:
    """A single top folder that holds student folders or flat files (not a student's own folder)."""
    return any(p.is_dir() for p in folder.iterdir()) or any("_" in p.name for p in folder.iterdir())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def collect(course: CourseDir, source: Path) -> CollectReport:
    """File every notebook of ``source`` under ``course.submitted``; see the module docstring."""
    source = Path(source)
    if not source.exists():
        raise CourseError(f"{source} does not exist: give the folder or zip of student submissions")
    prints = notebook_fingerprints(course.source)
    if not prints:
        raise CourseError(f"no source notebooks in {course.source}: run `backprop-course release` first")
    report = CollectReport()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    with tempfile.TemporaryDirectory() as tmp:
        root = _unpack(source, Path(tmp))
        chosen: dict[tuple[str, str, str], tuple[Path, str]] = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
            rel = path.relative_to(root)
            if path.is_symlink():
                report.skipped.append(f"{rel}: a symbolic link, not a file; links are never followed")
                continue
            if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            if path.suffix != ".ipynb":
                report.skipped.append(f"{rel}: not a notebook (.ipynb); nothing to grade")
                continue
            student = _student_of(path, root)
            if student is None:
                report.skipped.append(f"{rel}: no student id (use <student>/<file>.ipynb or <student>_<file>.ipynb)")
                continue
            key, how = _identify(path, prints)
            if key is None:
                report.skipped.append(f"{rel}: not recognised as any assignment's notebook")
                continue
            slot = (student, *key)
            if slot in chosen:
                earlier = chosen[slot][0]
                keep, drop = (path, earlier) if path.stat().st_mtime >= earlier.stat().st_mtime else (earlier, path)
                report.skipped.append(
                    f"{drop.relative_to(root)}: a second copy of {student}'s {key[1]}; kept the newer "
                    f"{keep.relative_to(root)}"
                )
                chosen[slot] = (keep, how)
            else:
                chosen[slot] = (path, how)
        by_submission: dict[tuple[str, str], list[tuple[Path, str, str]]] = {}
        for (student, assignment, notebook), (path, how) in chosen.items():
            by_submission.setdefault((student, assignment), []).append((path, notebook, how))
        for (student, assignment), files in sorted(by_submission.items()):
            _file_submission(course, root, student, assignment, files, stamp, report)
    return report


def _file_submission(
    course: CourseDir,
    root: Path,
    student: str,
    assignment: str,
    files: list[tuple[Path, str, str]],
    stamp: str,
    report: CollectReport,
) -> None:
    dest = course.submitted / student / assignment
    incoming = {notebook: path for path, notebook, _ in files}
    if dest.exists():
        same = all(
            (dest / f"{nb}.ipynb").exists() and _digest(dest / f"{nb}.ipynb") == _digest(path)
            for nb, path in incoming.items()
        )
        if same:
            report.unchanged.extend(f"{student}/{assignment}/{nb}.ipynb" for nb in incoming)
            return
        previous = (dest / "timestamp.txt").read_text().strip() if (dest / "timestamp.txt").exists() else "earlier"
        target = course.archive / student / assignment / re.sub(r"[^0-9A-Za-z.-]+", "_", previous)
        n = 1
        while target.exists():
            n += 1
            target = target.with_name(f"{target.name.split('~')[0]}~{n}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(dest), str(target))
        report.archived.append(f"{student}/{assignment} (submitted {previous}) -> {target.relative_to(course.root)}")
    dest.mkdir(parents=True)
    for path, notebook, how in files:
        shutil.copy2(path, dest / f"{notebook}.ipynb")
        note = "" if path.name == f"{notebook}.ipynb" and how == "by content" else f" (from {path.name}, {how})"
        report.placed.append(f"{student}/{assignment}/{notebook}.ipynb{note}")
    (dest / "timestamp.txt").write_text(stamp + "\n")
