"""The grader's error types: one per kind of failure a person can fix.

Every command turns these into one line on stderr and exit status 2 (:func:`autograder.cli.main`), never a
traceback. Lower layers raise them; only the CLI prints them.
"""

from __future__ import annotations

__all__ = ["CourseError", "SandboxUnavailable"]


class CourseError(Exception):
    """A problem an instructor can fix; the message says how. The CLI prints it without a traceback."""


class SandboxUnavailable(CourseError):
    """Students' code cannot be sandboxed here (no bubblewrap, or no permission to use it)."""
