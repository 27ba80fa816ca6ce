"""Where a file came from: the student and upload slot its place in an LMS download or nbgrader folder says."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nbgrader.utils import parse_utc

from autograder.commands.collect.sources import is_junk
from autograder.untrusted import for_filename

FOLDER_NAME_LENGTH = 40  # keeps submitted/<student>/<assignment>/<notebook> and nbgrader's work paths short
_CANVAS = re.compile(r"^(?P<name>[^_]+)_(?P<late>LATE_)?(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_file_$")
_MOODLE_FLAT = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<file>.+)$")
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Submitter:
    id: str  # the LMS's own id (or the folder name it was handed in under)
    name: str = ""
    format: str = "folder"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id

    def folder(self) -> str:
        text = f"{self.name}-{self.id}" if self.name else self.id
        return for_filename(text, max_length=FOLDER_NAME_LENGTH)


@dataclass
class Origin:
    student: Submitter
    assignment: str | None  # the slot the path says, if it says one
    how: str  # how the assignment was known
    submission_key: tuple[str, ...]  # entries sharing it are one upload
    time: datetime | None = None  # a time nbgrader's exchange vouches for (its inbound folder name)
    time_origin: str = ""
    late_mark: bool | None = None  # Canvas's LATE_ in the file name (None: the layout has no such mark)
    seen: datetime | None = None  # the entry's own time: only to keep the newer of two copies, never a grade
    raw: Submitter | None = None  # the name in the download, before it was looked up as a person


def is_wrapper(children: list[tuple[str, ...]], assignments: set[str], notebooks: set[str]) -> bool:
    """Does a single top folder with these entries (paths below it) hold per-student entries?"""
    for parts in children:
        if len(parts) > 1:
            if parts[0] not in assignments and not is_junk(parts[:1]):
                return True
        elif _CANVAS.match(parts[0]) or _MOODLE_FLAT.match(parts[0]):
            return True
        elif "_" in parts[0] and parts[0].endswith(".ipynb"):
            rest = parts[0].split("_", 1)[1].removesuffix(".ipynb")
            if any(rest.endswith(nb) for nb in notebooks):
                return True
    return False


def named_assignment(name: str, assignments: set[str]) -> str | None:
    norm = "-" + re.sub(r"[^a-z0-9]+", "-", name.lower()) + "-"
    hits = [a for a in assignments if "-" + re.sub(r"[^a-z0-9]+", "-", a.lower()) + "-" in norm]
    return hits[0] if len(hits) == 1 else None


def parse_inbound(name: str, assignments: set[str]) -> tuple[str, str, str] | None:
    parts = name.split("+")
    if len(parts) in (3, 4) and parts[1] in assignments and parts[0]:
        return parts[0], parts[1], parts[2]
    return None


def origin_of(parts: tuple[str, ...], assignments: set[str], default: str | None, default_how: str) -> Origin | None:
    """Who handed in the file at ``parts`` and through which assignment's slot (None: no student)."""
    top = parts[0]
    if len(parts) >= 2:
        inbound = parse_inbound(top, assignments)
        if inbound:
            login, assignment, stamp = inbound
            origin = Origin(Submitter(login, format="nbgrader-exchange"), assignment,
                             "nbgrader's inbound folder name", (top,))
            when = _parse_time(stamp)
            if when:
                origin.time, origin.time_origin = when, "nbgrader's inbound folder name"
            return origin
        moodle = MOODLE_FOLDER.match(top)
        student = Submitter(moodle["id"], moodle["name"], "moodle") if moodle else Submitter(top)
        if len(parts) >= 3 and parts[1] in assignments:
            return Origin(student, parts[1], "its folder", (top, parts[1]))
        return Origin(student, default, default_how, (top,))
    name = parts[0]
    if m := _MOODLE_FLAT.match(name):
        return Origin(Submitter(m["id"], m["name"], "moodle"), default, default_how, (m["id"],))
    if m := _CANVAS.match(name):
        return Origin(Submitter(m["id"], m["name"], "canvas"), default, default_how, (m["id"],),
                       late_mark=bool(m["late"]))
    if "_" in name:
        sid = name.split("_", 1)[0]
        return Origin(Submitter(sid), default, default_how, (sid,)) if sid else None
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
    return when if OLDEST <= when <= datetime.now(UTC) + timedelta(days=1) else None

