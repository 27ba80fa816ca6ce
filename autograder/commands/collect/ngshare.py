"""What ``nbgrader collect`` fetched from the hub's ngshare exchange, with ngshare's own record of it.

With ``BPC_EXCHANGE=ngshare`` (docs/deploy.md, "An exchange without a shared disk") there is no inbound
folder whose owner and name vouch for a submission: ``nbgrader collect`` downloads each student's latest
submission into ``<student>/<assignment>/`` with a ``timestamp.txt``. ``collect SOURCE --ngshare`` files
that folder and asks ngshare itself (``GET /submissions/<course>/<assignment>``, with the instructor's hub
token) who handed in what and when: a folder of a student ngshare has no submission of is not filed, and a
time is taken only when it is one ngshare recorded for that student and assignment (the ``timestamp.txt``
only says which of their submissions the folder holds). Never a time a student wrote.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from nbgrader.utils import parse_utc

from autograder.errors import CourseError

__all__ = ["NGSHARE_SOURCE", "NgshareRecord", "ngshare_record"]

NGSHARE_SOURCE = "ngshare's submission record"
NgshareRecord = dict[tuple[str, str], set[datetime]]  # (student id, assignment) -> the times ngshare recorded


def _utc(text: str) -> datetime | None:
    try:
        when = parse_utc(str(text).strip())
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None
    return when.replace(tzinfo=UTC) if isinstance(when, datetime) else None


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
        except ValueError:
            answer = {"message": f"HTTP {exc.code}"}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CourseError(f"ngshare at {url} cannot be reached ({exc}): is the hub running with "
                          "BPC_EXCHANGE=ngshare?") from exc
    if not isinstance(answer, dict) or not answer.get("success"):
        message = answer.get("message", "no answer") if isinstance(answer, dict) else "no answer"
        raise CourseError(f"ngshare refused {url}: {message} (run collect in your hub terminal, as an instructor "
                          "of the course)")
    return answer


def ngshare_record(course_id: str, assignments: Iterable[str], url: str | None = None,
                   token: str | None = None) -> NgshareRecord:
    """Every submission ngshare holds for these assignments of ``course_id``: who, and at which times.

    ``url`` and ``token`` default to what the hub gives the instructor's server (``BPC_NGSHARE_URL``,
    ``JUPYTERHUB_API_TOKEN``); a CourseError says what is missing or what ngshare answered.
    """
    url = url or os.environ.get("BPC_NGSHARE_URL", "")
    token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not url or not token:
        raise CourseError("--ngshare needs BPC_NGSHARE_URL and JUPYTERHUB_API_TOKEN (the hub sets both in your "
                          "server's terminal when it runs with BPC_EXCHANGE=ngshare)")
    record: NgshareRecord = {}
    quote = urllib.parse.quote
    for assignment in sorted(set(assignments)):
        answer = _get(f"{url.rstrip('/')}/submissions/{quote(course_id)}/{quote(assignment)}", token)
        for item in answer.get("submissions", []):
            when = _utc(item.get("timestamp", "")) if isinstance(item, dict) else None
            if when is not None and item.get("student_id"):
                record.setdefault((str(item["student_id"]), assignment), set()).add(when)
    return record


def exchange_time(record: NgshareRecord, folder: Path, student: str, assignment: str) -> tuple[datetime | None, str]:
    """``(time, "")`` of the submission in ``folder`` as ngshare recorded it, or ``(None, why not)``.

    ``folder/timestamp.txt`` (written by ``nbgrader collect`` from ngshare's answer) only picks which of
    the times ngshare recorded for ``student`` is this one; a time ngshare did not record is never used.
    """
    times = record.get((student, assignment))
    if not times:
        return None, (f"ngshare has no submission of {assignment} by {student}; not filed (was this folder "
                      "collected from ngshare?)")
    try:
        stamp = _utc((folder / "timestamp.txt").read_text(encoding="utf-8", errors="replace")[:100])
    except OSError:
        stamp = None
    if stamp in times:
        return stamp, ""
    return None, ("its timestamp.txt is not one of the times ngshare recorded for this student: no late penalty "
                  "computed; run `nbgrader collect --update` again")
