"""The entries of a collect SOURCE: the files of a folder or the members of a zip, streamed with a cap."""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import IO

from autograder.commands.collect.summary import CollectReport
from autograder.commands.collect.summary import show as _show
from autograder.errors import CourseError

MIB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class SourceEntry:
    parts: tuple[str, ...]
    mtime: datetime | None
    time_origin: str
    opener: Callable[[], IO[bytes]]
    size: int


class TooBig(Exception):
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


def _zip_entries(zf: zipfile.ZipFile, zone: tzinfo, report: CollectReport) -> Iterator[SourceEntry]:
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
        yield SourceEntry(parts, mtime, origin, partial(zf.open, info), info.file_size)


def _reader(path: Path) -> Callable[[], IO[bytes]]:
    """Open ``path`` for binary reading when called (late, so only staged files are opened)."""
    def open_binary() -> IO[bytes]:
        return path.open("rb")
    return open_binary


def _folder_entries(root: Path, report: CollectReport) -> Iterator[SourceEntry]:
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                shown = _show((here / d).relative_to(root))
                report.skipped.append(f"{shown}: a symbolic link; links are never followed")
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
            yield SourceEntry(rel.parts, datetime.fromtimestamp(st.st_mtime, UTC), "the file's modification time",
                         _reader(path), st.st_size)


def is_junk(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def stage_entry(entry: SourceEntry, dest: Path, cap: int) -> str:
    """Stream ``entry`` into ``dest``, never more than ``cap`` decompressed bytes; return its sha256."""
    digest = hashlib.sha256()
    written = 0
    with entry.opener() as src, dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > cap:
                raise TooBig
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def open_entries(
    source: Path, zone: tzinfo, report: CollectReport, stack: ExitStack, student: str | None = None
) -> list[SourceEntry]:
    """The entries of the folder or zip ``source`` (the zip stays open in ``stack``).

    One notebook (``student`` says whose) is one entry ``<student>/<notebook>``.
    """
    if student is not None:
        st = source.stat()
        return [SourceEntry((student, source.name), datetime.fromtimestamp(st.st_mtime, UTC), "",
                       lambda: source.open("rb"), st.st_size)]
    if source.is_dir():
        return list(_folder_entries(source, report))
    if not zipfile.is_zipfile(source):
        raise CourseError(f"{source} is neither a folder nor a zip file: give the folder or the LMS zip")
    try:
        zf = stack.enter_context(zipfile.ZipFile(source))
        return list(_zip_entries(zf, zone, report))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise CourseError(f"{source} is a damaged zip ({exc}): download it again from the LMS") from exc
