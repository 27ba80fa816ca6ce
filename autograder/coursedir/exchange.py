"""For a course that does not use nbgrader's exchange: Formgrader without the exchange's error banner.

``backprop-course`` hands assignments out as zips for an LMS and takes submissions in with ``collect``,
so nbgrader's exchange folder (``Exchange.root``, ``/usr/local/share/nbgrader/exchange`` by default) is
often missing, and Formgrader then shows an error banner on every visit. Where that folder does not
exist, ``backprop-course formgrader`` gives nbgrader these classes (:func:`unused_exchange_settings`):
listing finds nothing, and Formgrader's "release" and "collect" buttons answer with what to do instead.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.exchange.abc import ExchangeCollect, ExchangeList, ExchangeReleaseAssignment

from autograder.coursedir.course import CourseDir, instructor_config

__all__ = ["NoExchangeCollect", "NoExchangeList", "NoExchangeRelease", "exchange_in_use",
           "unused_exchange_settings"]

_NOT_USED = ("this course does not use nbgrader's exchange: post course/release/<assignment>.zip on your LMS, "
             "then file the students' notebooks with `backprop-course collect`")


class NoExchangeList(ExchangeList):
    """Lists nothing (no assignment was released through an exchange)."""

    def start(self) -> list:
        return []


class NoExchangeRelease(ExchangeReleaseAssignment):
    """Formgrader's "release" button: says how this course hands assignments out."""

    def start(self) -> None:
        self.fail(_NOT_USED)


class NoExchangeCollect(ExchangeCollect):
    """Formgrader's "collect" button: says how this course takes submissions in."""

    def start(self) -> None:
        self.fail(_NOT_USED)


def exchange_in_use(course: CourseDir) -> bool:
    """Whether the exchange folder nbgrader would use for ``course`` exists (the instructor set one up)."""
    from nbgrader.exchange.default.exchange import Exchange

    configured = instructor_config(course).Exchange
    root = configured.root if "root" in configured else Exchange().root
    return Path(root).is_dir()


def unused_exchange_settings() -> list[str]:
    """Command-line settings for JupyterLab that put the classes above in place of nbgrader's exchange."""
    here = __name__
    return [f"--ExchangeFactory.list={here}.NoExchangeList",
            f"--ExchangeFactory.release_assignment={here}.NoExchangeRelease",
            f"--ExchangeFactory.collect={here}.NoExchangeCollect"]
