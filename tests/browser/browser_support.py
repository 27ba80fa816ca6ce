"""What the browser tests share: the browser's path and options, the outside-request guard, and starting
and stopping servers (JupyterLab in its own process group, always stopped).

The browser is ``/usr/bin/chromium`` (Debian's package; Playwright's own browser download cannot work on
these machines). Without it the browser tests are skipped with the reason, unless ``CI`` is set: then
they fail, because ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BIN = Path(sys.executable).parent
LOCAL_HOST = "127.0.0.1"
VIEWPORT = {"width": 1280, "height": 900}


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to a true value (as ``.ci/run`` runs)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip (or, under CI, fail) the test: something the browser tests need is missing."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so the browser tests must run: .ci/run installs what they need)")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


@dataclass
class OutsideGuard:
    """Routes every request of a browser context: 127.0.0.1 passes, anything else is aborted and recorded."""

    blocked: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @staticmethod
    def is_local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob", "about") or parts.hostname == LOCAL_HOST

    def attach(self, context: Any) -> None:
        context.route("**/*", self._route)
        context.on("request", lambda request: self.seen.append(request.url))
        context.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        context.on("page", self._watch_page)

    def _watch_page(self, page: Any) -> None:
        page.on("websocket", lambda ws: None if self.is_local(ws.url.replace("ws", "http", 1))
                else self.blocked.append(ws.url))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if self.is_local(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def outside(self) -> list[str]:
        """Every URL of another host that the context asked for (blocked or seen)."""
        return sorted(set(self.blocked) | {u for u in self.seen if not self.is_local(u)})


def guarded_context(browser: Any) -> tuple[Any, Any, OutsideGuard]:
    """A new browser context (1280x900) whose requests go through an :class:`OutsideGuard`, and its one page:
    (context, page, guard). The caller closes the context."""
    context = browser.new_context(viewport=VIEWPORT)
    guard = OutsideGuard()
    guard.attach(context)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page, guard


# ------------------------------------------------------------------------------------------------ processes
def tool_env(**extra: str) -> dict[str, str]:
    """The environment for this venv's commands: its bin/ first on PATH (nbgrader runs ``alembic`` by name)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join((str(BIN), env.get("PATH", "")))
    env.update(extra)
    return env


def run_tool(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """Run ``BIN/args[0] args[1:]``; fail the test with its output if it exits non-zero."""
    done = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout,
                          env=tool_env(**env), cwd=ROOT)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def stop_process_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to ``proc`` (it shuts down what it started), then SIGKILL to what is left of its group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group start_lab created (start_new_session=True)
    if proc.poll() is None:
        proc.wait(timeout=10)


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, process and log file."""

    url: str
    token: str
    proc: subprocess.Popen
    log: Path

    def lab_url(self) -> str:
        return f"{self.url}/lab?token={self.token}"

    def get(self, path: str) -> int:
        """The HTTP status of ``GET path`` (with the token)."""
        sep = "&" if "?" in path else "?"
        try:
            with urllib.request.urlopen(f"{self.url}{path}{sep}token={self.token}", timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code


def _lab_home(home: Path) -> dict[str, str]:
    """Isolated Jupyter folders for one server: no user config from this machine leaks in.

    The test settings turn off JupyterLab's news check (no toast over the screenshots) and its windowed
    notebook rendering (every cell is in the page, so every output can be checked).
    """
    settings = home / "settings"
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    folders = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTERLAB_WORKSPACES_DIR":
               "workspaces", "IPYTHONDIR": "ipython"}
    env = {name: str(home / sub) for name, sub in folders.items()}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTER_CONFIG_PATH"] = ""  # only what the command under test adds
    for path in env.values():
        if path:
            Path(path).mkdir(parents=True, exist_ok=True)
    return env


def start_lab(command: list[str], home: Path, name: str, timeout: float = 120) -> LabServer:
    """Start a JupyterLab command (``command`` + server options) and wait until its API answers."""
    port, token = free_port(), secrets.token_hex(16)
    options = ["--no-browser", f"--ServerApp.ip={LOCAL_HOST}", f"--ServerApp.port={port}",
               f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
    log = home / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*command, *options], stdout=out, stderr=subprocess.STDOUT, cwd=home,
                                env=tool_env(**_lab_home(home / name)), start_new_session=True)
    server = LabServer(f"http://{LOCAL_HOST}:{port}", token, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} JupyterLab exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if server.get("/api/status") == 200 and server.get("/lab") == 200:
                return server
        except OSError:
            pass
        time.sleep(0.5)
    stop_process_group(proc)
    pytest.fail(f"{name} JupyterLab did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


class QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: Any) -> None:  # `format`: the base class's name
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 from a thread of this process; yields the base URL."""
    server = ThreadingHTTPServer((LOCAL_HOST, 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
