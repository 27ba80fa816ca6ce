"""The gradebook's database URL: one place that normalises it, checks it, and explains what went wrong.

``backprop-course`` (and nbgrader, through ``nbgrader_config.py``) keeps its gradebook in SQLite by default
or in any database SQLAlchemy can reach; PostgreSQL is supported with the psycopg 3 driver, a dependency
of this package. SQLAlchemy reads a plain ``postgresql://`` URL as "use psycopg2", which is not installed,
so :func:`normalise_db_url` rewrites ``postgresql://`` and ``postgres://`` to ``postgresql+psycopg://``;
every course folder goes through it (:meth:`autograder.coursedir.course.CourseDir.at`), and the normalised URL is
what ``nbgrader_config.py`` holds, so plain ``nbgrader`` commands use the same driver.

:func:`check_gradebook_url` connects once and turns the usual mistakes (server not running, wrong
password, database missing, no right to create tables, unknown scheme) into one line that says what to
do. :func:`is_transient` tells which errors a writer may retry in a new transaction (a unique key another
grader inserted first, a deadlock, a serialization failure, a dropped connection). See docs/database.md.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from autograder.errors import CourseError
from autograder.settings import COURSE_ID

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

T = TypeVar("T")

__all__ = [
    "check_gradebook_url",
    "describe_db_error",
    "ensure_bin_on_path",
    "ensure_gradebook",
    "gradebook_schema_head",
    "is_transient",
    "normalise_db_url",
    "open_gradebook",
    "run_with_retries",
    "safe_url",
    "use_in_process_schema_head",
]

PG_DRIVER = "psycopg"
CONNECT_TIMEOUT = 10  # seconds to wait for a server that does not answer
_URL_FORMS = ("sqlite:////absolute/path/gradebook.db or postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
              "(docs/database.md)")
# SQLSTATE codes (PostgreSQL appendix A) a retry in a new transaction can get past
_TRANSIENT_SQLSTATES = {"23505", "40001", "40P01", "42P07", "57P01", "08000", "08003", "08006"}


def _make_url(url: str):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError:
        raise CourseError(f"--db {url!r} is not a database URL: use {_URL_FORMS}") from None


def normalise_db_url(url: str) -> str:
    """``url`` in the form SQLAlchemy and nbgrader should use; a CourseError for an unknown scheme.

    ``postgresql://`` and ``postgres://`` (with no driver) become ``postgresql+psycopg://``; every other URL
    is returned as given once its scheme and driver are known, except that a relative SQLite path is made
    absolute. No connection is made.
    """
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = f"postgresql+{PG_DRIVER}://" + url[len(prefix):]
            break
    parsed = _make_url(url)
    from sqlalchemy.exc import NoSuchModuleError

    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise CourseError(f"--db: unknown database scheme {parsed.drivername!r}: use {_URL_FORMS}") from None
    except ImportError as exc:  # the dialect exists but its driver module does not
        raise CourseError(f"--db: the driver for {parsed.drivername!r} is not installed ({exc}); "
                          f"use postgresql:// (psycopg 3, installed with this course) or sqlite:///") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database).expanduser()
        if not path.is_absolute():  # nbgrader_config.py and the workers must not depend on the current folder
            url = parsed.set(database=str(path.resolve())).render_as_string(hide_password=False)
    return url


def safe_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages)."""
    try:
        return _make_url(url).render_as_string(hide_password=True)
    except CourseError:
        return "<invalid URL>"


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split("\n")[:1]).strip()
    return text[:300] or type(orig).__name__


def describe_db_error(exc: BaseException, url: str) -> str:
    """One line saying what ``exc`` (raised while using the database at ``url``) means and what to do."""
    parsed = _make_url(url)
    where = safe_url(url)
    state = _sqlstate(exc)
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    hostname, port, user = parsed.host or "localhost", parsed.port or 5432, parsed.username or "postgres"
    host = f"{hostname}:{port}"
    if parsed.get_backend_name() == "sqlite":
        return (f"cannot open the SQLite gradebook {where} ({_first_line(exc)}): check that its folder exists "
                "and is writable")
    if state in {"28P01", "28000"} or "password authentication failed" in low:
        return (f"the database server at {host} refused user {user!r} (wrong user or password): "
                "fix USER:PASSWORD in the --db URL, or in ~/.pgpass / $PGPASSWORD")
    if "no password supplied" in low:
        return (f"the database server at {host} wants a password for user {user!r}: put it in the "
                "--db URL (postgresql://USER:PASSWORD@HOST/DB), ~/.pgpass or $PGPASSWORD")
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return (f"database {parsed.database!r} does not exist on {host}: create it first, e.g. "
                f"`createdb -h {hostname} -p {port} -U {user} {parsed.database}` "
                f"or CREATE DATABASE \"{parsed.database}\" OWNER \"{user}\" "
                "(docs/database.md)")
    if state == "42501" or "permission denied" in low:
        return (f"user {user!r} may not create or change the gradebook's tables in database "
                f"{parsed.database!r}: make it the owner (ALTER DATABASE \"{parsed.database}\" OWNER TO "
                f"\"{user}\") or GRANT CREATE ON SCHEMA public TO it (docs/database.md)")
    if state == "23505" or "duplicate key" in low:
        return (f"another grader wrote the same row at the same moment ({_first_line(exc)}); grading it again "
                "resolves it")
    if state == "53300" or ("too many" in low and "connection" in low):
        return (f"the database server at {host} has no free connections: raise its max_connections, or run "
                "fewer graders at once")
    unreachable = ("connection refused", "could not connect", "timeout expired", "timed out",
                   "could not translate host", "failed to resolve host", "name or service not known",
                   "no route to host", "network is unreachable", "connection failed", "server closed the connection")
    if any(s in low for s in unreachable):
        return (f"cannot reach the database server at {host} ({_first_line(exc)}): check that PostgreSQL is "
                "running there and the --db URL's host and port are right")
    return f"the gradebook database {where} failed: {_first_line(exc)}"


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is worth retrying in a new transaction (see the module docstring)."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    if isinstance(exc, InvalidEntry | IntegrityError):
        return True  # nbgrader wraps a lost insert race (unique key) in InvalidEntry
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if _sqlstate(exc) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(exc, OperationalError):
        low = str(exc).lower()
        return any(s in low for s in ("deadlock", "could not serialize", "database is locked", "server closed"))
    return False


def check_gradebook_url(url: str, timeout: int = CONNECT_TIMEOUT) -> None:
    """Connect to ``url`` once; a CourseError with :func:`describe_db_error`'s line if that fails."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    parsed = _make_url(normalise_db_url(url))
    connect_args = {"connect_timeout": timeout} if parsed.get_backend_name() == "postgresql" else {}
    engine = create_engine(parsed, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise CourseError(describe_db_error(exc, url)) from None
    finally:
        engine.dispose()


class _HideRollbackLog(logging.Filter):
    """nbgrader logs a full traceback ("Rolling back session ...") before it raises InvalidEntry: a lost race
    that the next attempt gets past is not worth a traceback on the instructor's screen."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Rolling back session due to database error")


def run_with_retries(action: Callable[[], T], url: str, what: str, attempts: int = 6,
                     first_wait: float = 0.05) -> T:
    """``action()``, run again after a transient error (:func:`is_transient`), at most ``attempts`` times.

    ``action`` must start a new session (transaction) each time it is called. Waits grow from
    ``first_wait`` seconds, doubling, capped at 2 s, with random jitter so that two graders that collided
    do not collide again. A database error that is not transient, or one still there after the last
    attempt, becomes a CourseError: ``what`` and :func:`describe_db_error`'s line.
    """
    from sqlalchemy.exc import SQLAlchemyError

    log = logging.getLogger("tornado.application")  # nbgrader's app_log
    hide = _HideRollbackLog()
    log.addFilter(hide)
    try:
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except Exception as exc:
                if not is_transient(exc):
                    if isinstance(exc, SQLAlchemyError):
                        raise CourseError(f"{what}: {describe_db_error(exc, url)}") from None
                    raise
                if attempt == attempts:
                    raise CourseError(f"{what}: still failing after {attempts} attempts "
                                      f"({describe_db_error(exc, url)}); everything before it is saved: run "
                                      "the same command again") from None
                time.sleep(min(2.0, first_wait * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))
    finally:
        log.removeFilter(hide)
    raise AssertionError("unreachable")  # pragma: no cover


def ensure_bin_on_path() -> None:
    """Put this Python's bin/ on PATH: nbgrader's commands run ``jupyter`` (Formgrader) and ``alembic`` by name.

    So every command works when started as ``.venv/bin/backprop-course`` without the environment activated.
    """
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


@functools.cache
def gradebook_schema_head() -> str:
    """The newest revision of nbgrader's gradebook schema: what nbgrader writes into a new gradebook.

    Read from nbgrader's own migration scripts with alembic's API, in this process (0.1 s once nbgrader is
    imported).
    """
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    if not head:
        raise CourseError(f"nbgrader's gradebook migrations ({ALEMBIC_DIR}) have no head revision: reinstall nbgrader")
    return head


def use_in_process_schema_head() -> None:
    """Make nbgrader learn its schema revision in this process when it creates a gradebook.

    nbgrader 0.9.6 (``nbgrader.api.get_alembic_version``) runs ``alembic heads`` in a subprocess for each new
    gradebook, a fresh Python that imports nbgrader again: 3 to 4 s on this project's 2-core machine, and it
    fails where ``alembic`` is not on PATH. :func:`gradebook_schema_head` returns the same revision.
    """
    import nbgrader.api

    nbgrader.api.get_alembic_version = gradebook_schema_head


@contextmanager
def open_gradebook(url: str) -> Iterator[Gradebook]:
    """nbgrader's ``Gradebook`` for this course at ``url``, closed and its connections released on exit.

    (``Gradebook.close`` alone returns the connection to the engine's pool, which keeps it open.)
    """
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader 0.9.6 + SQLAlchemy 2: harmless noise
    use_in_process_schema_head()  # a new gradebook: nbgrader's schema revision without a subprocess
    gb = Gradebook(url, COURSE_ID)
    try:
        yield gb
    except BaseException:
        gb.db.rollback()
        raise
    finally:
        gb.close()
        gb.engine.dispose()


def ensure_gradebook(url: str) -> None:
    """Check that the gradebook at ``url`` can be reached and opened (its tables are created if missing).

    A CourseError with one line saying what to do when it cannot (see :func:`describe_db_error`).
    """
    check_gradebook_url(url)

    def _open() -> None:
        with open_gradebook(url) as gb:
            _repair_alembic_version(gb)

    run_with_retries(_open, url, "cannot open the gradebook")


def _repair_alembic_version(gb: Gradebook) -> None:
    """Add the ``alembic_version`` table nbgrader writes when it creates a gradebook, if it is missing.

    A gradebook created while ``alembic`` was not on PATH (an earlier ``.venv/bin/backprop-course`` run)
    has every other table but not this one, and nbgrader's ``nbgrader db upgrade`` then fails on it.
    """
    from sqlalchemy import inspect, text

    if "alembic_version" in inspect(gb.engine).get_table_names():
        return
    version = gradebook_schema_head()
    gb.db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    gb.db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
    gb.db.commit()
