"""docs/deploy.md run exactly as printed: real Unix accounts, the local spawner, PAM logins, on 127.0.0.1.

Everything runs in a private mount namespace (``unshare --mount``) whose ``/etc``, ``/opt``, ``/srv``,
``/home``, ``/usr/local/src`` and ``/var`` are overlays on a temp folder and whose ``/tmp`` is empty: the
guide's ``useradd``, its ``/opt`` environment and its exchange vanish with the namespace, and the machine's
own files stay as they were. The network and processes are shared, so the hub answers on the guide's own
port (8000) of 127.0.0.1. The test does three things the guide leaves to a person: it copies this checkout
to ``/usr/local/src/backprop-course`` (for ``git clone``), sets the accounts' passwords (for ``passwd``) and
gives the hub an API token in its environment (to start servers and get each user's token).

Needs root (``unshare``, ``useradd``), Node/npm (the proxy) and a system Python >= 3.11 with ``venv`` outside
any home folder; skipped otherwise, except under CI, where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from hub_support import (
    ACCESS_WORDS,
    ROOT,
    HubClient,
    ServerClient,
    Terminal,
    access_table,
    form_login,
    guide_blocks,
    in_ci,
)

from testkit.solution_lines import BEGIN_HIDDEN
from testkit.solution_lines import leaks as _leaks
from testkit.solution_lines import secret_lines as _secret_lines

pytestmark = [pytest.mark.hub, pytest.mark.grading]

INSTRUCTOR, STUDENTS, COURSE_ID = "lee", ("s0001", "s0002"), "backprop-course"  # as the guide names them
KINDS = {"s0001": "correct", "s0002": "partly-wrong"}  # student -> sample_class kind of answers
ASSIGNMENT = "01-chain-rule"
HUB_URL, GUIDE_PORTS = "http://127.0.0.1:8000", (8000, 8001, 8081)
OVERLAYS = ("/etc", "/opt", "/srv", "/home", "/usr/local/src", "/var")
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # a root login's PATH
ARTIFACTS = ROOT / "test-artifacts" / "hub" / "guide"
_REGISTRY_ENV = re.compile(r"^(PIP_|NPM_CONFIG_|NODE_EXTRA_CA_CERTS$)|PROXY$|_CA_BUNDLE$|^SSL_CERT_", re.I)


def _missing() -> str:
    """Why the guide cannot be run here ("" when it can)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "the deploy guide's test needs Linux and root (useradd, unshare --mount)"
    for tool in ("unshare", "nsenter", "setpriv", "useradd", "chpasswd", "npm", "node", "make"):
        if not shutil.which(tool, path=ROOT_PATH):
            return f"{tool} is not installed"
    python = shutil.which("python3", path=ROOT_PATH)
    if not python or subprocess.run([python, "-c", "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"],
                                    capture_output=True).returncode != 0:
        return "the guide needs a system python3 >= 3.11 with venv and ensurepip (apt-get install python3-venv)"
    for port in GUIDE_PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return f"port {port} of 127.0.0.1 is in use: the guide's hub listens there"
    return ""


@dataclass
class Namespace:
    """The private mount namespace the guide runs in (a ``sleep`` holds it open)."""

    base: Path
    holder: subprocess.Popen
    hub: subprocess.Popen | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    passwords: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    servers: dict[str, ServerClient] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.holder.pid

    def path(self, inside: str) -> Path:
        """``inside`` (a path in the namespace) as root outside it sees it."""
        return Path(f"/proc/{self.pid}/root{inside}")

    def root_env(self, **extra: str) -> dict[str, str]:
        env = {"PATH": ROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}
        # how this machine reaches its package registries (index, proxy, CA certificates), as a root login has it
        env.update({k: v for k, v in os.environ.items() if _REGISTRY_ENV.search(k)})
        env.update(extra)
        return env

    def command(self, args: list[str]) -> list[str]:
        return ["nsenter", f"--target={self.pid}", "--mount", "--", *args]

    def run_root(self, script: str, log_name: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``script`` with ``bash -e`` as root in the namespace (from /root, as after a root login)."""
        done = subprocess.run(self.command(["bash", "-e", "-c", script]), capture_output=True, text=True,
                              timeout=timeout, env=self.root_env(), cwd="/")
        (ARTIFACTS / f"{log_name}.log").write_text(
            f"$ {script}\n--- exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def as_user(self, user: str, script: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``script`` with bash as Unix account ``user`` (its uid, gid and groups; no root) in the namespace."""
        home = f"/home/{user}"
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "USER": user, "LANG": "C.UTF-8"}
        args = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", "bash", "-c", script]
        return subprocess.run(self.command(args), capture_output=True, text=True, timeout=timeout, env=env,
                              input=stdin, cwd="/")

    def uid_name(self, uid: int) -> str:
        for line in self.path("/etc/passwd").read_text().splitlines():
            parts = line.split(":")
            if int(parts[2]) == uid:
                return parts[0]
        return str(uid)

    def lap(self, step: str, started: float) -> None:
        self.timings[step] = round(time.monotonic() - started, 1)


def _copy_checkout(dest: Path) -> None:
    """This checkout's files as git sees them (tracked and new, not ignored): what a clone would hold."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _start_namespace(base: Path) -> subprocess.Popen:
    """A ``sleep`` in a new mount namespace with the overlays and an empty /tmp; returns when it is ready."""
    ready, layers = base / "ready", base / "layers"
    layers.mkdir()
    # the overlays' upper layers live in a tmpfs of the namespace: gone with it, nothing to delete afterwards
    mounts = [f"mount -t tmpfs -o mode=0700 tmpfs {layers}"]
    for i, folder in enumerate(OVERLAYS):
        up, work = layers / f"up{i}", layers / f"work{i}"
        mounts.append(f"mkdir {up} {work}")
        mounts.append(f"mount -t overlay overlay -o lowerdir={folder},upperdir={up},workdir={work} {folder}")
    script = "\n".join([
        "set -e", *mounts,
        f"cp -a {base / 'src'} /usr/local/src/backprop-course",  # the test's stand-in for `git clone`
        "chown -R root:root /usr/local/src/backprop-course",
        f"touch {ready}",
        "mount -t tmpfs -o mode=1777 tmpfs /tmp",
        "exec sleep infinity",
    ])
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", script],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if holder.poll() is not None:
            pytest.fail(f"the mount namespace could not be set up: {holder.stderr.read()}")
        if ready.exists() and Path(f"/proc/{holder.pid}/root/tmp").stat().st_dev != Path("/tmp").stat().st_dev:
            return holder
        time.sleep(0.2)
    holder.kill()
    pytest.fail("the mount namespace was not ready within 120 s")


def _processes_in(ns_pid: int) -> list[int]:
    """Every process in the same mount namespace as ``ns_pid`` (all started by this test)."""
    try:
        target = os.readlink(f"/proc/{ns_pid}/ns/mnt")
    except OSError:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "mnt") == target:
                    pids.append(int(entry.name))
    return pids


def _stop(ns: Namespace) -> None:
    if ns.hub is not None and ns.hub.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ns.hub.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            ns.hub.wait(timeout=40)
    for pid in _processes_in(ns.pid):
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    ns.holder.wait(timeout=30)
    if ns.hub is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            ns.hub.wait(timeout=10)


@pytest.fixture(scope="module")
def guide() -> Iterator[Namespace]:
    """The guide's set-up (every `root` block), the hub started by its `root-service` block, and the servers."""
    why = _missing()
    if why:
        if in_ci():
            pytest.fail(f"{why} (CI is set, so the guide's test must run)")
        pytest.skip(why)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    base = Path(tempfile.mkdtemp(prefix="bpc-guide-"))
    started = time.monotonic()
    _copy_checkout(base / "src")
    ns = Namespace(base, _start_namespace(base))
    try:
        blocks = guide_blocks()
        for i, block in enumerate(b for b in blocks if b.kind == "root"):
            t0 = time.monotonic()
            done = ns.run_root(block.text, f"root-{i + 1}")
            assert done.returncode == 0, (f"docs/deploy.md line {block.line} exited {done.returncode}:\n"
                                          f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            ns.lap(f"root block {i + 1} (line {block.line})", t0)
        for name in (INSTRUCTOR, *STUDENTS):  # the guide says `passwd NAME`; the test sets them itself
            ns.passwords[name] = secrets.token_urlsafe(12)
        lines = "".join(f"{n}:{p}\n" for n, p in ns.passwords.items())
        assert subprocess.run(ns.command(["chpasswd"]), input=lines, text=True, env=ns.root_env()).returncode == 0

        (service,) = [b for b in blocks if b.kind == "root-service"]
        t0 = time.monotonic()
        log = (ARTIFACTS / "jupyterhub.log").open("w")
        ns.hub = subprocess.Popen(ns.command(["bash", "-e", "-c", service.text]), stdout=log,
                                  stderr=subprocess.STDOUT, env=ns.root_env(BPC_HUB_API_TOKEN=ns.token), cwd="/",
                                  start_new_session=True)
        client = HubClient(HUB_URL, ns.token)
        deadline = time.monotonic() + 120
        while True:
            if ns.hub.poll() is not None:
                tail = (ARTIFACTS / "jupyterhub.log").read_text()[-4000:]
                pytest.fail(f"the hub exited {ns.hub.returncode}:\n{tail}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{HUB_URL}/hub/api/", timeout=5) as r:
                if r.status == 200:  # the proxy answers 404 until the hub has added its own route
                    break
            if time.monotonic() > deadline:
                pytest.fail("the hub did not answer within 120 s")
            time.sleep(0.5)
        names = [INSTRUCTOR, *STUDENTS]
        for name in names:
            client.request_server(name)
        for name in names:
            client.wait_ready(name)
        ns.servers = {name: ServerClient(HUB_URL, name, client.user_token(name)) for name in names}
        ns.lap("hub and three servers", t0)
        yield ns
    finally:
        _stop(ns)
        shutil.rmtree(base, ignore_errors=True)
        print(f"deploy guide timings (s): {ns.timings}; total {time.monotonic() - started:.1f}")


# ------------------------------------------------------------------------------------------------ helpers
def _type_block(term: Terminal, text: str, log_name: str, timeout: float = 600) -> str:
    """Type each line of a guide block into ``term``; every one must exit 0. Returns what the terminal showed."""
    shown = []
    for line in [ln for ln in text.splitlines() if ln.strip()]:
        rc, out = term.type(line, timeout)
        shown.append(f"$ {line}\n{out}\n[exit {rc}]")
        with (ARTIFACTS / f"{log_name}.log").open("a") as fh:
            fh.write(shown[-1] + "\n")
        assert rc == 0, f"`{line}` in {term.server.name}'s terminal exited {rc}:\n{out[-3000:]}"
    return "\n".join(shown)


def _text_of(page: str) -> str:
    import html

    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _student_cannot_find_secrets(ns: Namespace, student: str) -> None:
    """As ``student``: no file it can read where the hub puts files holds a solution or hidden test.

    Its own home is left out: a student who answered correctly has written the solution there themselves.
    """
    released = "\n".join(p.read_text() for p in ns.path(f"/home/{INSTRUCTOR}/course/release").rglob("*.ipynb"))
    secrets_ = _secret_lines(ns.path("/usr/local/src/backprop-course/notebooks"), released)
    # course_lib is the package every account imports: a line it holds (a forward model, its own engine) is
    # public by design, even where a hidden test's reference repeats it
    public = "\n".join(p.read_text() for p in ns.path("/usr/local/src/backprop-course/course_lib").rglob("*.py"))
    secrets_ = [line for line in secrets_ if line not in public]
    assert len(secrets_) > 10, secrets_
    others = " ".join(f"/home/{n}" for n in (INSTRUCTOR, *STUDENTS) if n != student)
    found = ns.as_user(student, f"grep -rlF -f - /opt/backprop-course /srv {others} /tmp /var/tmp /usr/local/src "
                                "/etc/backprop-course 2>/dev/null; true", stdin="\n".join(secrets_) + "\n")
    leaks = {path: hits for path in found.stdout.split("\n") if path
             for hits in [_leaks(ns.path(path).read_text(errors="replace"), secrets_)] if hits}
    assert not leaks, f"{student} can read solutions or hidden tests: {leaks}"
    # the same search as root does find them (in the repository and the instructor's course folder): it looks
    as_root = ns.run_root("grep -rlF -f /dev/stdin /usr/local/src/backprop-course/notebooks /home/lee/course/source"
                          " <<'EOF'\n" + "\n".join(secrets_) + "\nEOF", "root-grep")
    assert as_root.stdout.count(".ipynb") >= 2, as_root.stdout


# ------------------------------------------------------------------------------------------------ the tests
def test_guide_setup_logins_and_instructor_terminal(guide: Namespace) -> None:
    ns = guide
    started = time.monotonic()
    # PAM: the accounts' own passwords; a wrong one and an unlisted account are refused
    assert form_login(HUB_URL, INSTRUCTOR, ns.passwords[INSTRUCTOR]) == 200
    assert form_login(HUB_URL, "s0001", ns.passwords["s0001"]) == 200
    assert form_login(HUB_URL, "s0001", ns.passwords["s0002"]) != 200
    assert form_login(HUB_URL, "root", ns.passwords["s0001"]) != 200
    # each server runs as its own account, with the hub's files where every account reads them
    for name, server in ns.servers.items():
        term = Terminal(server)
        try:
            rc, out = term.type("id -un; echo home=$HOME")
            assert rc == 0 and out.splitlines()[1:3] == [name, f"home=/home/{name}"], out
            rc, out = term.type("command -v backprop-course nbgrader alembic jupyter")
            assert rc == 0, f"{name}: the course's commands are not on PATH in the terminal:\n{out}"
            assert out.count("/opt/backprop-course/env/bin/") == 4, out
        finally:
            term.close()
    # the installed environment holds the package, not the repository's notebooks
    site = next(ns.path("/opt/backprop-course/env/lib").glob("python3*/site-packages"))
    assert (site / "autograder").is_dir() and (site / "course_lib").is_dir() and not (site / "notebooks").exists()
    ours = [p for d in (site / "autograder", site / "course_lib", ns.path("/opt/backprop-course/hub"))
            for p in d.rglob("*.ipynb")]
    assert not ours, ours
    ns.lap("logins and terminals", started)


def test_guide_release_and_students_submit(guide: Namespace, tmp_path: Path) -> None:
    ns = guide
    started = time.monotonic()
    first, second, regen = [b for b in guide_blocks() if b.kind == "instructor-terminal"]
    term = Terminal(ns.servers[INSTRUCTOR])
    try:
        _type_block(term, first.text, "instructor-1")
    finally:
        term.close()
    course = ns.path(f"/home/{INSTRUCTOR}/course")
    assert (course / "release" / ASSIGNMENT).is_dir()
    assert ns.path(f"/srv/nbgrader/exchange/{COURSE_ID}/outbound/{ASSIGNMENT}").is_dir()
    owners = {ns.uid_name(p.lstat().st_uid) for p in course.rglob("*")}
    assert owners == {INSTRUCTOR}, f"files in the course folder not the instructor's: {owners}"
    ns.lap("instructor releases", started)

    from autograder.commands.sample_class import make_sample_class

    notebooks = sorted(p.name for p in (course / "release" / ASSIGNMENT).glob("*.ipynb"))
    for name, kind in KINDS.items():
        server = ns.servers[name]
        listed = server.assignment_action("fetch", COURSE_ID, ASSIGNMENT)
        assert listed["success"], listed
        release_copy = tmp_path / name / "release" / ASSIGNMENT
        release_copy.mkdir(parents=True)
        for nb_name in notebooks:
            model = server.json("GET", f"/api/contents/{ASSIGNMENT}/{nb_name}?content=1")
            nbformat.write(nbformat.from_dict(model["content"]), str(release_copy / nb_name))
        make_sample_class(release_copy.parent, course / "source", tmp_path / name / "answers", [ASSIGNMENT],
                          kinds=[kind])
        (answers,) = (tmp_path / name / "answers").glob(f"*/{ASSIGNMENT}")
        for nb_name in notebooks:
            content = json.loads((answers / nb_name).read_text())
            server.json("PUT", f"/api/contents/{ASSIGNMENT}/{nb_name}",
                        {"type": "notebook", "format": "json", "content": content})
        submitted = server.assignment_action("submit", COURSE_ID, ASSIGNMENT)
        assert submitted["success"], submitted
        fetched = ns.path(f"/home/{name}/{ASSIGNMENT}")
        assert ns.uid_name(fetched.stat().st_uid) == name
    inbound = sorted(ns.path(f"/srv/nbgrader/exchange/{COURSE_ID}/inbound").iterdir())
    assert sorted(p.name.split("+")[0] for p in inbound) == sorted(KINDS)
    assert {ns.uid_name(p.stat().st_uid) for p in inbound} == set(KINDS), "each hand-in is its student's"
    ns.lap("students fetch, answer, submit", started)


def _table_disagreements(ns: Namespace, rows: list) -> list[str]:
    """Where the namespace differs from rows of docs/deploy.md's table (owner, mode, access as each account)."""
    wrong = []
    for row in rows:
        st = ns.path(row.path).stat()
        owner, mode = ns.uid_name(st.st_uid), stat.S_IMODE(st.st_mode)
        if (owner, mode) != (row.owner, row.mode):
            wrong.append(f"{row.path}: {owner} {mode:04o}, the table says {row.owner} {row.mode:04o}")
        is_dir = stat.S_ISDIR(st.st_mode)
        for account, word in row.access.items():
            read_cmd = f"ls {row.path}" if is_dir else f"cat {row.path}"
            probe = (f"{read_cmd} >/dev/null 2>&1 && echo r=1 || echo r=0; test -w {row.path} && echo w=1 || echo w=0;"
                     f" {'cd ' + row.path if is_dir else 'test -r ' + row.path} 2>/dev/null && echo x=1 || echo x=0")
            out = ns.as_user(account, probe).stdout
            got = tuple(f"{k}=1" in out for k in "rwx")
            want = ACCESS_WORDS[word]
            if not is_dir:
                got, want = got[:2], want[:2]
            if got != want:
                wrong.append(f"{row.path} as {account}: read/write/enter {got}, the table says {word!r}")
    return wrong


def test_what_each_account_can_read(guide: Namespace) -> None:
    """docs/deploy.md's table, row by row: owner, mode, and each account's access tried as that account.

    The exchange's feedback folder appears with the first `nbgrader release_feedback`: its row is checked by
    the grading test, after that.
    """
    ns = guide
    rows = access_table()
    assert {r.path for r in rows} >= {"/usr/local/src/backprop-course", f"/home/{INSTRUCTOR}/course",
                                      "/home/s0001", "/home/s0002", "/opt/backprop-course/env"}
    later = [r for r in rows if r.path.endswith("/feedback")]
    assert len(later) == 1 and not ns.path(later[0].path).exists()
    wrong = _table_disagreements(ns, [r for r in rows if r not in later])
    assert not wrong, "\n".join(wrong)


def test_a_student_reads_no_solution_hidden_test_or_other_work(guide: Namespace) -> None:
    ns = guide
    nb = next(ns.path("/usr/local/src/backprop-course/notebooks").glob(f"{ASSIGNMENT}/*.ipynb")).name
    tries = {  # what the student read, tried again as s0001
        "the repository's solutions and hidden tests": f"/usr/local/src/backprop-course/notebooks/{ASSIGNMENT}/{nb}",
        "the instructor's course folder": f"/home/{INSTRUCTOR}/course/source/{ASSIGNMENT}/{nb}",
        "the instructor's gradebook": f"/home/{INSTRUCTOR}/course/gradebook.db",
        "another student's notebook": f"/home/s0002/{ASSIGNMENT}/{nb}",
        "the hub's settings": "/etc/backprop-course/hub.env",
    }
    for what, path in tries.items():
        assert ns.path(path).exists(), f"{path} should exist for this check to mean something"
        done = ns.as_user("s0001", f"cat {path}")
        assert done.returncode != 0 and "Permission denied" in done.stderr, f"s0001 read {what} ({path})"
    assert ns.as_user("s0002", f"cat /home/s0002/{ASSIGNMENT}/{nb} >/dev/null").returncode == 0, "the probe works"
    _student_cannot_find_secrets(ns, "s0001")


def _feedback_leaks(pages: list[Path], hidden: list[str]) -> list[str]:
    out = []
    for page in pages:
        text = _text_of(page.read_text())
        shown = [ln for ln in hidden if ln in text]
        if BEGIN_HIDDEN in text or shown:
            out.append(f"{page.name} ({page.parent.parent.name}): marker {BEGIN_HIDDEN in text}, lines {shown[:2]}")
    return out


def test_instructor_grades_and_returns_feedback_without_root(guide: Namespace) -> None:
    ns = guide
    started = time.monotonic()
    _first, second, regen = [b for b in guide_blocks() if b.kind == "instructor-terminal"]
    course = ns.path(f"/home/{INSTRUCTOR}/course")
    released = "\n".join(p.read_text() for p in (course / "release").rglob("*.ipynb"))
    hidden = _secret_lines(course / "source", released, solutions=False)  # feedback shows the student's answers
    # ... which may repeat a line of a hidden reference (the notes' forward pass): such a line is no leak
    solution_text = "\n".join(c.source for p in (course / "source").glob("*/*.ipynb")
                              for c in nbformat.read(str(p), as_version=4).cells
                              if "### BEGIN SOLUTION" in c.source)
    hidden = [line for line in hidden if line not in solution_text]
    assert hidden
    n_pages = len(KINDS) * len(list((course / "release" / ASSIGNMENT).glob("*.ipynb")))
    leaks: dict[str, list[str]] = {}
    term = Terminal(ns.servers[INSTRUCTOR])
    try:
        _type_block(term, second.text, "instructor-2", timeout=600)
        ns.lap("instructor collects, grades (sandboxed, no root), releases feedback", started)
        pages = list((course / "feedback").rglob("*.html"))
        assert len(pages) == n_pages, pages
        leaks["backprop-course grade"] = _feedback_leaks(pages, hidden)
        owners = {ns.uid_name(p.lstat().st_uid) for p in course.rglob("*")}
        assert owners == {INSTRUCTOR}, f"grading left files the instructor does not own: {owners}"
        grades = (course / "grades.csv").read_text()
        assert all(name in grades for name in KINDS), grades
        for name in KINDS:
            listed = ns.servers[name].assignment_action("fetch_feedback", COURSE_ID, ASSIGNMENT)
            assert listed["success"], listed
            subs = [s for a in listed["value"] if a["status"] == "submitted" for s in a["submissions"]]
            assert subs and all(s["has_local_feedback"] for s in subs), subs
            pages = list(ns.path(f"/home/{name}/{ASSIGNMENT}/feedback").rglob("*.html"))
            assert pages and all(ns.uid_name(p.stat().st_uid) == name for p in pages)
            leaks[f"{name}'s fetched feedback"] = _feedback_leaks(pages, hidden)
        _type_block(term, regen.text, "instructor-3")
        leaks["nbgrader generate_feedback in the course folder"] = _feedback_leaks(
            list((course / "feedback").rglob("*.html")), hidden)
        # nbgrader's own generate_feedback from the home folder: the hub's instructor configuration applies
        rc, out = term.type(f"cd && nbgrader generate_feedback {ASSIGNMENT} --force")
        assert rc == 0, out
        leaks["nbgrader generate_feedback in the home folder"] = _feedback_leaks(
            list((course / "feedback").rglob("*.html")), hidden)
    finally:
        term.close()
    _student_cannot_find_secrets(ns, "s0001")
    wrong = _table_disagreements(ns, [r for r in access_table() if r.path.endswith("/feedback")])
    assert not wrong, "\n".join(wrong)
    (ARTIFACTS / "feedback-leaks.json").write_text(json.dumps(leaks, indent=1))
    assert not any(leaks.values()), json.dumps(leaks, indent=1)
    ns.lap("feedback fetched and checked", started)
