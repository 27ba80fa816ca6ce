"""The course's JupyterHub: its settings (environment variables) and what each role's server gets.

``jupyterhub_config.py`` beside this file calls :func:`configure`; the tests (``tests/hub/``) import the
same functions, so what they run as the instructor is what the hub gives the instructor. Settings, all
optional (defaults in brackets):

=========================  =========================================================================
``BPC_HUB_IP``             address the hub's proxy listens on [127.0.0.1]; behind HTTPS see docs/deploy.md
``BPC_HUB_PORT``           the proxy's public port [8000]
``BPC_HUB_API_PORT``       the hub's own (internal) port [8081]
``BPC_HUB_PROXY_API_PORT`` the proxy's REST API port (internal) [8001]
``BPC_HUB_STATE_DIR``      the hub's database, cookie secret and pid file [/srv/backprop-course/hub]
``BPC_EXCHANGE_ROOT``      nbgrader's exchange folder, shared by everyone [/srv/nbgrader/exchange]
``BPC_COURSE_ID``          the course's name in the exchange [backprop-course]
``BPC_COURSE_DIR``         the instructors' course folder; ``{home}`` is the instructor's home folder and
                           ``{username}`` their name (never ``~``: a shell expands it to root's home) [{home}/course]
``BPC_GRADEBOOK_URL``      the gradebook database URL; empty = SQLite in the course folder []
``BPC_INSTRUCTORS``        comma-separated user names with the instructor tools []
``BPC_STUDENTS``           comma-separated user names of the students []
``BPC_HUB_ADMINS``         comma-separated JupyterHub administrators (the admin page) []
``BPC_HUB_PASSWORD``       if set: one shared password for students and instructors (JupyterHub's
                           SharedPasswordAuthenticator, for a trial); unset: Unix passwords (PAM) []
``BPC_HUB_ADMIN_PASSWORD`` the administrators' shared password (32+ characters) with BPC_HUB_PASSWORD []
``BPC_HUB_SPAWNER``        ``local``: each user's server runs as their own Unix account (a real class);
                           ``simple``: as the hub's user, homes under BPC_HUB_HOMES (a laptop trial) [local]
``BPC_HUB_HOMES``          the ``simple`` spawner's home folders, ``{username}`` expanded [/tmp/{username}]
``BPC_HUB_API_TOKEN``      if set: an API token for scripts (service ``course-admin``: users, servers,
                           tokens) []
``BPC_HUB_PROXY``          the configurable-http-proxy command [deploy/hub/node_modules/.bin/...]
``BPC_EXCHANGE``           nbgrader's exchange: ``files`` (the folder BPC_EXCHANGE_ROOT, on a disk every server
                           sees) or ``ngshare`` (the hub's ngshare service: no shared disk) [files]
``BPC_NGSHARE_DIR``        ngshare's database and files (the hub's machine only) [/srv/ngshare]
``BPC_NGSHARE_PORT``       the ngshare service's own port (internal; servers reach it through the proxy) [10101]
``BPC_NGSHARE_PYTHON``     the Python of ngshare's own environment (ngshare needs SQLAlchemy 1.x, the course 2.x;
                           ``make hub-ngshare``) [deploy/hub/ngshare/env/bin/python]
=========================  =========================================================================

Roles: a user named in ``BPC_INSTRUCTORS`` is an instructor; anyone else is a student. Each single-user
server gets ``JUPYTER_CONFIG_PATH`` pointing at the folders beside this file:

* students: ``student/`` (nbgrader's Formgrader, Create Assignment and course list off; the assignment
  list — fetch, submit, fetch feedback — and Validate on) then ``nbgrader/`` (exchange and course id);
* instructors: ``nbgrader/`` only (every nbgrader tool, their course folder and gradebook);
* with ``BPC_EXCHANGE=ngshare`` the hub runs ngshare (a JupyterHub service at ``/services/ngshare/``, its
  admins the instructors) and ``nbgrader/nbgrader_config.py`` points nbgrader's exchange at it
  (``ngshare_exchange``); every server reaches it through the proxy, so no folder is shared;
* everyone: ``server/`` last (terminals run a plain ``bash`` with the server's environment, so the course's
  commands are on PATH: JupyterLab's default login shell would reset PATH from /etc/profile). It is a
  ``jupyter_server_config.json``: files in ``jupyter_server_config.d/`` are read for extensions only.

The values are read the same way from a shell (``set -a; . hub.env``) and from systemd's ``EnvironmentFile=``
only if they hold no quotes, no inline ``#`` comments and no ``~``: :meth:`HubSettings.check` refuses them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.settings import COURSE_ID_RULE

__all__ = ["HERE", "HubSettings", "configure", "ngshare_service", "user_environment"]

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DEFAULT_PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
DEFAULT_NGSHARE_PYTHON = HERE / "ngshare" / "env" / "bin" / "python"
DEFAULT_COURSE_ID = "backprop-course"
DEFAULT_COURSE_DIR = "{home}/course"


def _names(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, str(default))
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        hint = " (an inline comment? put comments on lines of their own)" if "#" in value else ""
        raise ValueError(f"{name}={value!r} is not a port number{hint}")
    return int(value)


@dataclass(frozen=True)
class HubSettings:
    """Everything that differs between one class's hub and another's (see the module docstring)."""

    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    state_dir: Path = Path("/srv/backprop-course/hub")
    exchange_root: str = "/srv/nbgrader/exchange"
    course_id: str = DEFAULT_COURSE_ID
    course_dir: str = DEFAULT_COURSE_DIR
    gradebook_url: str = ""
    instructors: tuple[str, ...] = ()
    students: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    password: str = field(default="", repr=False)
    admin_password: str = field(default="", repr=False)
    spawner: str = "local"
    homes: str = "/tmp/{username}"
    api_token: str = field(default="", repr=False)
    proxy_command: str = str(DEFAULT_PROXY)
    exchange: str = "files"
    ngshare_dir: str = "/srv/ngshare"
    ngshare_port: int = 10101
    ngshare_python: str = str(DEFAULT_NGSHARE_PYTHON)

    @property
    def ngshare_url(self) -> str:
        """Where servers reach the ngshare service: through the hub's proxy (its public address)."""
        host = "127.0.0.1" if self.ip in ("", "0.0.0.0") else self.ip
        return f"http://{host}:{self.port}/services/ngshare"

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> HubSettings:
        """The settings from ``BPC_*`` environment variables (``os.environ`` by default)."""
        e = os.environ if env is None else env
        d = HubSettings()
        settings = HubSettings(
            ip=e.get("BPC_HUB_IP", d.ip),
            port=_port(e, "BPC_HUB_PORT", d.port),
            hub_port=_port(e, "BPC_HUB_API_PORT", d.hub_port),
            proxy_api_port=_port(e, "BPC_HUB_PROXY_API_PORT", d.proxy_api_port),
            state_dir=Path(e.get("BPC_HUB_STATE_DIR", str(d.state_dir))),
            exchange_root=e.get("BPC_EXCHANGE_ROOT", d.exchange_root),
            course_id=e.get("BPC_COURSE_ID", d.course_id),
            course_dir=e.get("BPC_COURSE_DIR", d.course_dir),
            gradebook_url=e.get("BPC_GRADEBOOK_URL", d.gradebook_url),
            instructors=_names(e.get("BPC_INSTRUCTORS", "")),
            students=_names(e.get("BPC_STUDENTS", "")),
            admins=_names(e.get("BPC_HUB_ADMINS", "")),
            password=e.get("BPC_HUB_PASSWORD", ""),
            admin_password=e.get("BPC_HUB_ADMIN_PASSWORD", ""),
            spawner=e.get("BPC_HUB_SPAWNER", d.spawner),
            homes=e.get("BPC_HUB_HOMES", d.homes),
            api_token=e.get("BPC_HUB_API_TOKEN", ""),
            proxy_command=e.get("BPC_HUB_PROXY", d.proxy_command),
            exchange=e.get("BPC_EXCHANGE", d.exchange),
            ngshare_dir=e.get("BPC_NGSHARE_DIR", d.ngshare_dir),
            ngshare_port=_port(e, "BPC_NGSHARE_PORT", d.ngshare_port),
            ngshare_python=e.get("BPC_NGSHARE_PYTHON", d.ngshare_python),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ``ValueError`` with what to change if the settings cannot work."""
        if self.spawner not in ("local", "simple"):
            raise ValueError(f"BPC_HUB_SPAWNER must be 'local' or 'simple', not {self.spawner!r}")
        if self.exchange not in ("files", "ngshare"):
            raise ValueError(f"BPC_EXCHANGE must be 'files' or 'ngshare', not {self.exchange!r}")
        if not Path(self.ngshare_dir).is_absolute():
            raise ValueError(f"BPC_NGSHARE_DIR must be an absolute path, not {self.ngshare_dir!r}")
        both = set(self.instructors) & set(self.students)
        if both:
            raise ValueError(f"in both BPC_INSTRUCTORS and BPC_STUDENTS: {', '.join(sorted(both))}")
        if not COURSE_ID_RULE.fullmatch(self.course_id):
            raise ValueError(f"BPC_COURSE_ID {self.course_id!r}: use letters, digits, '-' and '_'")
        if not Path(self.exchange_root).is_absolute():
            raise ValueError(f"BPC_EXCHANGE_ROOT must be an absolute path, not {self.exchange_root!r}")
        for name, value in self.env_values().items():
            if "#" in value and any(ch.isspace() for ch in value):
                raise ValueError(f"{name}={value!r} holds an inline comment: systemd's EnvironmentFile= keeps it as "
                                 "part of the value; put comments on lines of their own")
            if any(ch.isspace() for ch in value):
                raise ValueError(f"{name}={value!r} holds a space: the shell and systemd read that differently")
            if value[:1] in ("'", '"'):
                raise ValueError(f"{name}={value!r}: write the value without quotes (systemd and the shell read "
                                 "quotes differently)")
        course_dir = self.course_dir
        if course_dir.startswith("~"):
            raise ValueError(f"BPC_COURSE_DIR={course_dir!r}: write {{home}}/course for each instructor's home "
                             "folder; a shell expands ~ to the hub's own home when it reads the settings")
        if not course_dir.startswith(("/", "{home}")):
            raise ValueError(f"BPC_COURSE_DIR must be an absolute path or start with {{home}}, not {course_dir!r}")
        hub_home = str(Path.home())
        if hub_home not in ("/", "") and "{" not in course_dir and (
                course_dir == hub_home or course_dir.startswith(hub_home + "/")):
            raise ValueError(f"BPC_COURSE_DIR={course_dir!r} is inside the hub's own home ({hub_home}): was ~ "
                             "expanded by a shell? Write {home}/course for each instructor's home folder")

    def env_values(self) -> dict[str, str]:
        """The settings that are plain text in the environment file, by variable name (for the checks)."""
        return {"BPC_HUB_IP": self.ip, "BPC_HUB_STATE_DIR": str(self.state_dir),
                "BPC_EXCHANGE_ROOT": self.exchange_root, "BPC_COURSE_ID": self.course_id,
                "BPC_COURSE_DIR": self.course_dir, "BPC_HUB_SPAWNER": self.spawner,
                "BPC_INSTRUCTORS": ",".join(self.instructors), "BPC_STUDENTS": ",".join(self.students),
                "BPC_HUB_ADMINS": ",".join(self.admins), "BPC_EXCHANGE": self.exchange,
                "BPC_NGSHARE_DIR": self.ngshare_dir}

    def course_dir_of(self, username: str, home: str | Path) -> str:
        """The course folder of instructor ``username`` whose home folder is ``home``."""
        return self.course_dir.replace("{home}", str(home).rstrip("/") or "/").replace("{username}", username)

    def role(self, username: str) -> str:
        """``"instructor"`` for a user named in ``BPC_INSTRUCTORS``, otherwise ``"student"``."""
        return "instructor" if username in self.instructors else "student"


def user_environment(settings: HubSettings, role: str, home: str | Path | None = None,
                     username: str = "") -> dict[str, str]:
    """The environment variables a single-user server of ``role`` gets (on top of JupyterHub's own).

    ``JUPYTER_CONFIG_PATH`` selects the role's tools; the ``BPC_*`` variables are read by
    ``nbgrader/nbgrader_config.py`` (exchange, course id, and for instructors course folder and gradebook).
    The same variables make ``nbgrader`` and ``backprop-course`` in the instructor's terminal use them.
    ``{home}`` and ``{username}`` in the course folder become ``home`` (the user's home folder) and ``username``.
    """
    if role not in ("student", "instructor"):
        raise ValueError(f"unknown role {role!r}")
    folders = [HERE / "student", HERE / "nbgrader"] if role == "student" else [HERE / "nbgrader"]
    folders.append(HERE / "server")
    env = {
        "JUPYTER_CONFIG_PATH": os.pathsep.join(str(f) for f in folders),
        "BPC_ROLE": role,
        "BPC_EXCHANGE_ROOT": settings.exchange_root,
        "BPC_COURSE_ID": settings.course_id,
        "BPC_HUB_SPAWNER": settings.spawner,
        "BPC_EXCHANGE": settings.exchange,
        # this environment's commands first (nbgrader runs `alembic` by name), then the system's
        "PATH": os.pathsep.join([str(BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
        "MPLBACKEND": "Agg",
    }
    if settings.exchange == "ngshare":
        env["BPC_NGSHARE_URL"] = settings.ngshare_url
    if role == "instructor":
        if "{home}" in settings.course_dir and not home:
            raise ValueError(f"BPC_COURSE_DIR={settings.course_dir!r} needs the instructor's home folder")
        env["BPC_COURSE_DIR"] = settings.course_dir_of(username, home or "")
        if settings.gradebook_url:
            env["BPC_GRADEBOOK_URL"] = settings.gradebook_url
    return env


def configure(c: Any, settings: HubSettings) -> None:
    """Fill JupyterHub's configuration object ``c`` from ``settings``."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.state_dir, 0o700)  # the hub's database and cookie secret: the hub's user only
    c.JupyterHub.bind_url = f"http://{settings.ip}:{settings.port}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub_port}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.command = [settings.proxy_command]
    c.JupyterHub.db_url = f"sqlite:///{settings.state_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(settings.state_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(settings.state_dir / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.pid_file = str(settings.state_dir / "jupyterhub-proxy.pid")  # not the current folder
    c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server
    c.JupyterHub.allow_named_servers = False

    # --- who may log in, and how
    users = set(settings.instructors) | set(settings.students)
    c.Authenticator.allowed_users = users
    c.Authenticator.admin_users = set(settings.admins)
    if settings.password:
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = settings.password
        if settings.admin_password:
            c.SharedPasswordAuthenticator.admin_password = settings.admin_password
    else:
        c.JupyterHub.authenticator_class = "pam"
    groups = {"instructors": list(settings.instructors), "students": list(settings.students)}
    c.JupyterHub.load_groups = {name: {"users": members} for name, members in groups.items()}

    # --- each user's server
    if settings.spawner == "simple":
        c.JupyterHub.spawner_class = "simple"
        c.SimpleLocalProcessSpawner.home_dir_template = settings.homes
        if os.geteuid() == 0:  # every server then runs as root, which Jupyter refuses unless told
            c.Spawner.args = ["--ServerApp.allow_root=True"]
    else:
        c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.Spawner.ip = "127.0.0.1"
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120

    def pre_spawn_hook(spawner: Any) -> None:
        role = settings.role(spawner.user.name)
        home = getattr(spawner, "home_dir", "")  # the simple spawner's; the user's Unix home otherwise
        if not home:
            with contextlib.suppress(KeyError):
                home = pwd.getpwnam(spawner.user.name).pw_dir
        spawner.environment.update(user_environment(settings, role, home or None, spawner.user.name))
        spawner.log.info("starting %s's server as %s", spawner.user.name, role)

    c.Spawner.pre_spawn_hook = pre_spawn_hook

    c.JupyterHub.services = [ngshare_service(settings)] if settings.exchange == "ngshare" else []
    _admin_token(c, settings)


def _admin_token(c: Any, settings: HubSettings) -> None:
    """A token for scripts (and the tests): manage users and servers, issue users' tokens."""
    if settings.api_token:
        c.JupyterHub.services.append({"name": "course-admin", "api_token": settings.api_token})
        c.JupyterHub.load_roles = [{
            "name": "course-admin",
            "description": "scripts that create users, start servers and issue tokens",
            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users", "read:users"],
            "services": ["course-admin"],
        }]


def ngshare_service(settings: HubSettings) -> dict[str, Any]:
    """ngshare as a hub-managed service: the exchange over HTTP, so no server needs a shared disk.

    It runs in its own environment (``BPC_NGSHARE_PYTHON``: ngshare 0.6 needs SQLAlchemy 1.x), keeps its
    database and files in ``BPC_NGSHARE_DIR`` (made 0700: the hub's user only) and knows each
    caller by the caller's hub token (``/hub/api/user``), so a student submits only as themself. The
    instructors are its admins: they create the course and add its students (docs/deploy.md).
    """
    if not Path(settings.ngshare_python).exists():
        raise ValueError(f"BPC_NGSHARE_PYTHON={settings.ngshare_python} does not exist: build ngshare's environment "
                         "(`make hub-ngshare`, or docs/deploy.md, \"An exchange without a shared disk\")")
    folder = Path(settings.ngshare_dir)
    (folder / "files").mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return {
        "name": "ngshare",
        "url": f"http://127.0.0.1:{settings.ngshare_port}",
        "command": [settings.ngshare_python, "-m", "ngshare", "--admins", ",".join(settings.instructors),
                    "--database", f"sqlite:///{folder / 'ngshare.db'}", "--storage", str(folder / "files")],
        "cwd": str(folder),
    }
