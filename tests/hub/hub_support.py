"""What the JupyterHub tests share: the hub process, HTTP clients for the hub and the users' servers.

``test_hub_cycle.py`` runs the hub with the ``simple`` spawner (deploy/hub/course_hub.py): every user's server
runs as this process's Unix user, with its own home folder under the test's temp folder. ``test_deploy_guide.py``
runs docs/deploy.md as printed, with the ``local`` spawner and real Unix accounts; it uses the guide's parsers
(:func:`guide_blocks`, :func:`access_table`) and :class:`Terminal` (a JupyterLab terminal over its WebSocket).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUB_DIR = ROOT / "deploy" / "hub"
BIN = Path(sys.executable).parent
LOCAL_HOST = "127.0.0.1"

sys.path.insert(0, str(HUB_DIR))
from course_hub import DEFAULT_NGSHARE_PYTHON, DEFAULT_PROXY, HubSettings, user_environment  # noqa: E402

__all__ = [
    "ACCESS_WORDS", "COURSE_ID", "DEPLOY_GUIDE", "INSTRUCTOR", "STUDENTS", "AccessRow", "CourseHub", "GuideBlock",
    "Terminal", "access_table", "form_login", "guide_blocks", "systemd_unit",
    "HubClient", "HubProcess", "HubSettings", "ServerClient", "free_port", "hub_missing", "run_as_user",
    "start_hub", "tool_env", "user_environment",
]


def in_ci() -> bool:
    """True when ``CI`` is set to a true value (as ``.ci/run`` runs): then a missing tool fails the test."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def hub_missing(exchange: str = "files") -> str:
    """Why the hub tests cannot run here ("" when they can) with nbgrader's ``exchange`` (files or ngshare)."""
    if exchange == "ngshare" and not DEFAULT_NGSHARE_PYTHON.exists():
        return f"{DEFAULT_NGSHARE_PYTHON} is missing: run `make hub-ngshare` (ngshare's own environment)"
    if sys.platform != "linux":
        return "the hub test needs Linux"
    if not shutil.which("node"):
        return "Node.js is missing: configurable-http-proxy needs it (Node >= 20)"
    if not DEFAULT_PROXY.exists():
        return f"{DEFAULT_PROXY} is missing: run `make hub-proxy` (npm ci in deploy/hub)"
    if not (BIN / "jupyterhub").exists():
        return "JupyterHub is not installed: it is in the test extra (pip install -e '.[test]')"
    return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


def tool_env(**extra: str) -> dict[str, str]:
    """This process's environment with the venv's bin/ first on PATH (nbgrader runs ``alembic`` by name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BPC_", "JUPYTER"))}
    env["PATH"] = os.pathsep.join((str(BIN), env.get("PATH", "")))
    env.update(extra)
    return env


INSTRUCTOR = "bpc-teacher"
STUDENTS = ("bpc-ada", "bpc-bob")
COURSE_ID = "backprop-hub-test"  # not the default, so the test shows the setting reaches every side


@dataclass
class CourseHub:
    """A running hub with one instructor and two students, an exchange and a gradebook URL."""

    hub: HubProcess
    base: Path
    exchange: Path
    gradebook_url: str

    @property
    def settings(self) -> HubSettings:
        return self.hub.settings

    def home(self, user: str) -> Path:
        """``user``'s home folder (the simple spawner's ``BPC_HUB_HOMES``)."""
        return Path(self.settings.homes.format(username=user))

    @property
    def course_dir(self) -> Path:
        """The instructor's course folder (``BPC_COURSE_DIR`` = ``~/course``)."""
        return self.home(INSTRUCTOR) / "course"


# ------------------------------------------------------------------------------------------------ commands
def run_as_user(home: Path, name: str, args: list[str], env: dict[str, str], cwd: Path,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``args`` as the hub user ``name`` would in their server's terminal: their HOME and environment.

    (With the ``simple`` spawner every server runs as the hub's own Unix user, so that is this process's.)
    Fails the test with the output if the command exits non-zero.
    """
    full_env = {**tool_env(), "HOME": str(home), "JUPYTERHUB_USER": name, **env}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=full_env)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} as {name} exited {done.returncode}:\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


# ------------------------------------------------------------------------------------------------ HTTP
def _request(url: str, token: str, method: str = "GET", body: Any = None,
             timeout: float = 120) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"token {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@dataclass
class HubClient:
    """The hub's REST API through the proxy, with an admin token."""

    url: str  # the proxy's public URL, e.g. http://127.0.0.1:PORT
    token: str

    def api(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        """``method /hub/api/path``; fails the test unless the status is in ``expect``; returns the JSON."""
        status, raw = _request(f"{self.url}/hub/api{path}", self.token, method, body)
        if status not in expect:
            pytest.fail(f"{method} /hub/api{path} answered {status}: {raw[:2000]!r}")
        return json.loads(raw) if raw.strip() else None

    def request_server(self, name: str) -> None:
        """Ask the hub to start ``name``'s server (fine if it is already starting or running)."""
        self.api("POST", f"/users/{name}/server", expect=(201, 202, 400))

    def wait_ready(self, name: str, timeout: float = 150) -> None:
        """Wait until the hub says ``name``'s server is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            user = self.api("GET", f"/users/{name}")
            server = (user.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            if not server and not user.get("pending"):
                pytest.fail(f"{name}'s server stopped while starting (see the hub's log)")
            time.sleep(0.5)
        pytest.fail(f"{name}'s server was not ready within {timeout} s")

    def user_token(self, name: str) -> str:
        """A new API token of user ``name`` (what their browser session would hold)."""
        return self.api("POST", f"/users/{name}/tokens", {"note": "hub test", "expires_in": 3600})["token"]


@dataclass
class ServerClient:
    """One user's single-user server through the proxy (``/user/NAME/...``) with that user's token."""

    url: str
    name: str
    token: str

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """``method /user/NAME/path`` → (status, body)."""
        return _request(f"{self.url}/user/{self.name}{path}", self.token, method, body)

    def json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        """Like :meth:`request`, failing the test on an unexpected status; returns the decoded JSON."""
        status, raw = self.request(method, path, body)
        if status not in expect:
            pytest.fail(f"{self.name}: {method} {path} answered {status}: {raw[:2000]!r}")
        return json.loads(raw)

    def assignment_action(self, action: str, course_id: str, assignment_id: str) -> Any:
        """nbgrader's assignment-list handler: ``fetch``, ``submit`` or ``fetch_feedback``; returns its JSON."""
        return self.json("POST", f"/assignments/{action}", {"course_id": course_id, "assignment_id": assignment_id})


# ------------------------------------------------------------------------------------------------ the hub
@dataclass
class HubProcess:
    """A running JupyterHub (and its proxy)."""

    proc: subprocess.Popen
    state_dir: Path
    log: Path
    client: HubClient
    settings: HubSettings
    extra: dict[str, Any] = field(default_factory=dict)

    def log_tail(self, chars: int = 6000) -> str:
        """The end of the hub's log (the proxy's and servers' output is in it too)."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM the hub (it stops the servers and the proxy it started); then end whatever is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=40)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        _stop_proxy(self.state_dir / "jupyterhub-proxy.pid")


def _stop_proxy(pid_file: Path) -> None:
    """End the proxy this hub started (it runs in its own session) if the hub could not."""
    import psutil

    try:
        pid = int(pid_file.read_text().strip())
        proc = psutil.Process(pid)
        if any("configurable-http-proxy" in part for part in proc.cmdline()):
            proc.kill()
            proc.wait(timeout=10)
    except (OSError, ValueError, psutil.Error):
        pass


def settings_env(settings: HubSettings) -> dict[str, str]:
    """The ``BPC_*`` environment variables that make :meth:`HubSettings.from_env` return ``settings``."""
    env = {
        "BPC_HUB_IP": settings.ip, "BPC_HUB_PORT": str(settings.port), "BPC_HUB_API_PORT": str(settings.hub_port),
        "BPC_HUB_PROXY_API_PORT": str(settings.proxy_api_port), "BPC_HUB_STATE_DIR": str(settings.state_dir),
        "BPC_EXCHANGE_ROOT": settings.exchange_root, "BPC_COURSE_ID": settings.course_id,
        "BPC_COURSE_DIR": settings.course_dir, "BPC_GRADEBOOK_URL": settings.gradebook_url,
        "BPC_INSTRUCTORS": ",".join(settings.instructors), "BPC_STUDENTS": ",".join(settings.students),
        "BPC_HUB_ADMINS": ",".join(settings.admins), "BPC_HUB_PASSWORD": settings.password,
        "BPC_HUB_ADMIN_PASSWORD": settings.admin_password,
        "BPC_HUB_SPAWNER": settings.spawner, "BPC_HUB_HOMES": settings.homes, "BPC_HUB_API_TOKEN": settings.api_token,
        "BPC_HUB_PROXY": settings.proxy_command, "BPC_EXCHANGE": settings.exchange,
        "BPC_NGSHARE_DIR": settings.ngshare_dir, "BPC_NGSHARE_PORT": str(settings.ngshare_port),
        "BPC_NGSHARE_PYTHON": settings.ngshare_python,
    }
    assert HubSettings.from_env(env) == settings, "settings_env does not round-trip"
    return env


def start_hub(settings: HubSettings, timeout: float = 120) -> HubProcess:
    """Start ``jupyterhub -f deploy/hub/jupyterhub_config.py`` with ``settings``; wait until its API answers."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log = settings.state_dir.parent / "jupyterhub.log"
    env = tool_env(**settings_env(settings))
    with log.open("w") as out:
        proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")],
                                stdout=out, stderr=subprocess.STDOUT, cwd=settings.state_dir, env=env,
                                start_new_session=True)
    hub = HubProcess(proc, settings.state_dir, log, HubClient(f"http://{settings.ip}:{settings.port}",
                                                              settings.api_token), settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            hub.stop()
            pytest.fail(f"JupyterHub exited {proc.returncode}:\n{hub.log_tail()}")
        with contextlib.suppress(OSError):
            status, _ = _request(f"{hub.client.url}/hub/api/", settings.api_token, timeout=5)
            if status == 200:
                return hub
        time.sleep(0.5)
    hub.stop()
    pytest.fail(f"JupyterHub did not answer within {timeout} s:\n{hub.log_tail()}")


# ------------------------------------------------------------------------------------------------ the guide
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
# ngshare-terminal: the instructor's lines with BPC_EXCHANGE=ngshare (test_hub_cycle.py runs them as printed)
GUIDE_KINDS = ("root", "root-service", "instructor-terminal", "ngshare-terminal", "not-run")
_MARKER = re.compile(r"^\s*<!--\s*guide:\s*([a-z-]+)\b(.*?)-->\s*$")
_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


@dataclass(frozen=True)
class GuideBlock:
    """One ``sh`` block of docs/deploy.md with the kind its ``<!-- guide: KIND -->`` marker gives."""

    kind: str
    text: str  # dedented, as a reader copies it
    line: int  # 1-based line of the opening fence

    @property
    def lines(self) -> list[str]:
        """The block's non-empty lines, as typed one by one."""
        return [ln for ln in self.text.splitlines() if ln.strip()]


def guide_blocks(path: Path = DEPLOY_GUIDE) -> list[GuideBlock]:
    """Every ``sh`` block of the guide, in order; a block without a marker (or an unknown kind) is an error."""
    lines = path.read_text().splitlines()
    blocks, i, pending = [], 0, None  # pending: (kind, line index the fence must be on)
    while i < len(lines):
        m = _MARKER.match(lines[i])
        if m:
            pending = (m.group(1), i + 1)
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if fence:
            indent, lang, start = fence.group(1), fence.group(2), i
            j = i + 1
            while j < len(lines) and not re.match(rf"^{re.escape(indent)}```\s*$", lines[j]):
                j += 1
            body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
            if lang == "sh":
                if pending is None or pending[1] != start:
                    raise ValueError(f"{path.name}:{start + 1}: sh block without a <!-- guide: KIND --> line above")
                if pending[0] not in GUIDE_KINDS:
                    raise ValueError(f"{path.name}:{pending[1]}: unknown guide kind {pending[0]!r}")
                blocks.append(GuideBlock(pending[0], "\n".join(body) + "\n", start + 1))
            pending, i = None, j + 1
            continue
        i += 1
    return blocks


@dataclass(frozen=True)
class AccessRow:
    """One row of the guide's "What each account can read" table."""

    path: str
    owner: str
    mode: int
    access: dict[str, str]  # account -> "no" | "read" | "read, write" | "hand in" | "enter"


ACCESS_WORDS = {  # what each word of the table means: (can list/read, can write, can enter)
    "no": (False, False, False),
    "read": (True, False, True),
    "read, write": (True, True, True),
    "hand in": (False, True, True),
    "enter": (False, False, True),
}


def access_table(path: Path = DEPLOY_GUIDE) -> list[AccessRow]:
    """The rows of the table under the heading "What each account can read"."""
    text = path.read_text()
    section = text.split("## What each account can read", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[:3] == ["path", "owner", "mode"], header
    out = []
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        access = dict(zip(header[3:], cells[3:], strict=True))
        bad = {v for v in access.values() if v not in ACCESS_WORDS}
        assert not bad, f"unknown access words {bad} in {row}"
        out.append(AccessRow(cells[0].strip("`"), cells[1], int(cells[2], 8), access))
    return out


def systemd_unit(path: Path) -> dict[str, str]:
    """``Key=value`` lines of a systemd unit (the last one wins; comments and sections skipped)."""
    keys = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            keys[key.strip()] = value.strip()
    return keys


# ------------------------------------------------------------------------------------------------ terminals
class Terminal:
    """A terminal of a user's JupyterLab server, driven through the hub's proxy like a browser does.

    The prompt is set to ``@@rc:$?@@`` first (the test's own line), so that after each typed line the test
    knows the command ended and its exit status. The websocket lives on an event loop of its own in a thread:
    a test process may already have a running loop (Playwright's sync API leaves one set in the browser tests
    that ran before in the same pytest-xdist process), and a second loop cannot run in the same thread.
    """

    PROMPT = re.compile(r"@@rc:(\d+)@@")

    def __init__(self, server: ServerClient, rows: int = 50, cols: int = 400) -> None:
        import asyncio
        import threading

        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"terminal-{server.name}", daemon=True)
        self._thread.start()
        self.name = server.json("POST", "/api/terminals")["name"]
        self.ws = self._run(self._connect())
        self.buffer = ""
        self._send(["set_size", rows, cols, rows * 10, cols * 10])
        self._send(["stdin", "PS1='@@rc:$?@@ '\r"])
        self._until_prompt(60)
        self.buffer = ""

    def _run(self, coroutine: Any) -> Any:
        """Run ``coroutine`` on the terminal's loop and return its result (its exception is raised here)."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _connect(self) -> Any:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = self.server.url.replace("http://", "ws://") + f"/user/{self.server.name}/terminals/websocket/{self.name}"
        return await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.server.token}"}))

    def _send(self, message: list) -> None:
        async def send() -> None:  # inside the loop: tornado makes its futures on the running loop
            await self.ws.write_message(json.dumps(message))

        self._run(send())

    def _read(self, timeout: float) -> str | None:
        import asyncio

        try:
            async def read() -> str | None:
                return await asyncio.wait_for(self.ws.read_message(), timeout)

            raw = self._run(read())
        except TimeoutError:
            return ""
        if raw is None:
            return None
        msg = json.loads(raw)
        return msg[1] if msg[0] == "stdout" else ""

    def _until_prompt(self, timeout: float) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.PROMPT.search(self.buffer)
            if m:
                out, self.buffer = self.buffer[:m.start()], self.buffer[m.end():]
                return int(m.group(1)), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).replace("\r", "")
            chunk = self._read(min(5.0, max(0.1, deadline - time.monotonic())))
            if chunk is None:
                pytest.fail(f"{self.server.name}'s terminal closed:\n{self.buffer[-3000:]}")
            self.buffer += chunk
        pytest.fail(f"{self.server.name}'s terminal: no prompt within {timeout} s:\n{self.buffer[-3000:]}")

    def type(self, line: str, timeout: float = 300) -> tuple[int, str]:
        """Type ``line`` and Enter; wait for the prompt; return (exit status, what the terminal showed).

        The text shown is without terminal escapes and carriage returns; it starts with the echoed line.
        """
        self._send(["stdin", line + "\r"])
        return self._until_prompt(timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.call_soon_threadsafe(self.ws.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
        with contextlib.suppress(Exception):
            self.server.request("DELETE", f"/api/terminals/{self.name}")
        self.loop.close()


def form_login(url: str, name: str, password: str) -> int:
    """Log in at the hub's login form like a browser; returns the status after redirects (200 = logged in)."""
    import urllib.parse
    from http.cookiejar import CookieJar

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{url}/hub/login", timeout=60) as r:
        form = r.read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form)
    data = {"username": name, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
    try:
        with opener.open(f"{url}/hub/login", urllib.parse.urlencode(data).encode(), timeout=60) as r:
            return r.status if "/hub/login" not in r.url else 403
    except urllib.error.HTTPError as err:
        return err.code
