"""Shared test settings: hypothesis runs reproducibly (derandomized) and without per-example deadlines;
tests marked ``needs_sandbox`` are skipped where bubblewrap cannot run (failed under CI, which must run them)."""

import functools
import os

from autograder.lazy_imports import defer_rfc3987_syntax

# Before anything imports nbformat (importing autograder does this too): jsonschema's rfc3987 grammar is
# built on first use, not in every worker.
defer_rfc3987_syntax()

import matplotlib  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("course", derandomize=True, deadline=None, max_examples=150)
settings.load_profile("course")

# A throwaway PostgreSQL server: fixtures `postgres` (session) and `pg_url` (fresh database); see testkit/pgserver.py
from testkit.pgserver import pg_url, postgres  # noqa: E402, F401


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to a true value (as ``.ci/run`` runs)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@functools.cache
def _sandbox_status() -> tuple[bool, str]:
    from autograder.isolation.sandbox import sandbox_available  # runs bwrap: only when a test needs it

    return sandbox_available()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_sandbox"):
        ok, why = _sandbox_status()
        if not ok:
            if in_ci():
                pytest.fail(f"no sandbox on this machine: {why} (CI must run the sandbox tests)", pytrace=False)
            pytest.skip(f"no sandbox on this machine: {why}")


@pytest.fixture(autouse=True)
def _gradcheck_context_is_restored():
    """A test (or a notebook cell run in-process) that sets the checker's notebook context leaves none behind."""
    from course_lib import gradcheck

    before = gradcheck.get_context()
    yield
    gradcheck.set_context(before)
