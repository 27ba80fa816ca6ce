"""A throwaway PostgreSQL server for tests and benchmarks (Debian's binaries, 127.0.0.1, a free port).

API (kept small on purpose; other tests import it)::

    from testkit.pgserver import PostgresServer, find_pg_bindir

    server = PostgresServer().start()            # initdb into a temp folder, pg_ctl start on a free port
    url = server.create_database("my_test")      # CREATE DATABASE; returns "postgresql://postgres@127.0.0.1:PORT/my_test"
    server.create_user("alice", "secret")        # a login role that must give its password
    server.sql("SELECT 1", dbname="my_test")     # run SQL with psql as the superuser; returns psql's output
    server.stop()                                # pg_ctl stop, then delete the temp folder
    # or: with PostgresServer() as server: ...

pytest fixtures (registered in tests/conftest.py, so every test under tests/ can ask for them):

* ``postgres`` (session): the running :class:`PostgresServer`, stopped at the end of the session;
* ``pg_url`` (function): the URL of a fresh, empty database made for that test.

The returned URLs are plain ``postgresql://`` URLs; ``autograder.coursedir.database.normalise_db_url`` turns them
into the SQLAlchemy form with the psycopg 3 driver (``postgresql+psycopg://``).

Authentication: the superuser ``postgres`` is trusted on 127.0.0.1 (no password); every other role must
give its password (scram-sha-256). Nothing listens on a unix socket or on any other address.

PostgreSQL refuses to run as root: when root, ``initdb`` and ``pg_ctl`` run as Debian's ``postgres`` system
user (``runuser -u postgres --``) and the temp folder is given to that user. The binaries are the newest
``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql`` package); ``$PG_BINDIR`` overrides that.
Without them the fixtures skip, except under CI (``$CI`` set), where they fail, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "PostgresUnavailable", "find_pg_bindir", "pg_url", "postgres"]

SUPERUSER = "postgres"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed here."""


def find_pg_bindir() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` folder with ``initdb`` and ``pg_ctl`` (or ``$PG_BINDIR``), else None."""
    if os.environ.get("PG_BINDIR"):
        candidates = [Path(os.environ["PG_BINDIR"])]
    else:
        root = Path("/usr/lib/postgresql")
        versions = [p for p in root.glob("*") if p.name.replace(".", "").isdigit()] if root.is_dir() else []
        candidates = [p / "bin" for p in sorted(versions, key=lambda p: float(p.name), reverse=True)]
    for bindir in candidates:
        if all((bindir / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres", "psql")):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temp folder, listening on 127.0.0.1 only; see the module docstring."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_pg_bindir()
        self.port = 0
        self.host = "127.0.0.1"
        self.folder: Path | None = None
        self._as_postgres = os.geteuid() == 0

    # --- running the binaries -------------------------------------------------------------------------
    def _run(self, exe: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        assert self.bindir is not None and self.folder is not None
        cmd = [str(self.bindir / exe), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.folder,
                              env={**os.environ, "LC_ALL": "C", "PGTZ": "UTC"})
        if check and proc.returncode != 0:
            raise RuntimeError(f"{exe} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    @property
    def datadir(self) -> Path:
        """The cluster's data folder."""
        assert self.folder is not None
        return self.folder / "data"

    @property
    def logfile(self) -> Path:
        """The server's log (read it when a start fails)."""
        assert self.folder is not None
        return self.folder / "server.log"

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> PostgresServer:
        """initdb a new cluster in a temp folder and start it on a free port; returns ``self``."""
        if self.bindir is None:
            raise PostgresUnavailable("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                                      "apt-get install postgresql")
        if self.folder is not None:
            return self
        self.folder = Path(tempfile.mkdtemp(prefix="pgtest-"))
        if self._as_postgres:
            shutil.chown(self.folder, SUPERUSER, SUPERUSER)
        self._run("initdb", "-D", str(self.datadir), "-U", SUPERUSER, "-E", "UTF8", "--no-instructions",
                  "--auth-local=reject", "--auth-host=scram-sha-256", timeout=180)
        hba = (f"host all {SUPERUSER} 127.0.0.1/32 trust\n"
               "host all all 127.0.0.1/32 scram-sha-256\n")
        (self.datadir / "pg_hba.conf").write_text(hba)
        last_error = ""
        for _ in range(5):  # the free port can be taken between choosing it and the server binding it
            self.port = _free_port()
            options = (f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories='' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
                       "-c shared_buffers=32MB")
            proc = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.logfile),
                             "-o", options, timeout=90, check=False)
            if proc.returncode == 0:
                return self
            last_error = self.logfile.read_text() if self.logfile.exists() else proc.stderr
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start:\n{last_error[-2000:]}")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its temp folder. Safe to call twice."""
        if self.folder is None:
            return
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.datadir), timeout=60, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- using it ------------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """A plain ``postgresql://`` URL of database ``dbname`` on this server."""
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Run ``statement`` with psql as the superuser; returns its unaligned, tuples-only output."""
        proc = self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.host,
                         "-p", str(self.port), "-U", SUPERUSER, "-d", dbname, "-c", statement)
        return proc.stdout.strip()

    def create_database(self, name: str, owner: str = SUPERUSER) -> str:
        """CREATE DATABASE ``name`` (lower-case letters, digits, ``_``); returns its URL for ``owner``."""
        if not _NAME.fullmatch(name) or not _NAME.fullmatch(owner):
            raise ValueError(f"use lower-case letters, digits and _ for database and role names: {name!r}")
        self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.url(name)

    def create_user(self, name: str, password: str) -> None:
        """CREATE ROLE ``name`` LOGIN with ``password`` (it then must give it: scram-sha-256)."""
        if not _NAME.fullmatch(name) or "'" in password:
            raise ValueError("use lower-case letters, digits and _ for role names, and no ' in passwords")
        self.sql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")


# --- pytest fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running throwaway PostgreSQL server for the whole test session (see the module docstring)."""
    if find_pg_bindir() is None:
        why = ("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
               "(apt-get install postgresql; .ci/run does it)")
        if os.environ.get("CI"):
            pytest.fail(why + ": required in CI", pytrace=False)
        pytest.skip(why)
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def pg_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:
    """The plain URL of a fresh, empty database on the session's server, made for this test."""
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:40].strip("_") or "test"
    name = f"t{next(_counter)}_{stem}_{int(time.time() * 1000) % 100000}"
    return postgres.create_database(name)
