"""The hub's settings and per-role configuration (deploy/hub), without starting anything."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest
from hub_support import (
    DEPLOY_GUIDE,
    HUB_DIR,
    HubSettings,
    access_table,
    guide_blocks,
    settings_env,
    systemd_unit,
    user_environment,
)
from traitlets.config import Config, PyFileConfigLoader

from autograder.student.lab import nbgrader_server_extensions


def _nbgrader_config(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Config:
    """What deploy/hub/nbgrader/nbgrader_config.py sets when loaded with ``env`` (as nbgrader loads it)."""
    for key in [k for k in os.environ if k.startswith(("BPC_", "JUPYTERHUB_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader("nbgrader_config.py", path=str(HUB_DIR / "nbgrader")).load_config()


def test_settings_come_from_the_environment() -> None:
    settings = HubSettings.from_env({
        "BPC_HUB_PORT": "9000", "BPC_EXCHANGE_ROOT": "/srv/x", "BPC_COURSE_ID": "bp-2026",
        "BPC_INSTRUCTORS": "ann, bo,ann", "BPC_STUDENTS": "s1,s2,,", "BPC_HUB_SPAWNER": "simple",
    })
    assert (settings.port, settings.exchange_root, settings.course_id) == (9000, "/srv/x", "bp-2026")
    assert settings.instructors == ("ann", "bo") and settings.students == ("s1", "s2")
    assert settings.role("bo") == "instructor" and settings.role("s1") == settings.role("stranger") == "student"
    assert HubSettings.from_env(settings_env(settings)) == settings
    assert HubSettings.from_env({}) == HubSettings()


@pytest.mark.parametrize(("env", "message"), [
    ({"BPC_HUB_SPAWNER": "docker"}, "BPC_HUB_SPAWNER"),
    ({"BPC_INSTRUCTORS": "ann", "BPC_STUDENTS": "ann,bo"}, "in both"),
    ({"BPC_COURSE_ID": "a+b"}, "BPC_COURSE_ID"),
    ({"BPC_EXCHANGE_ROOT": "exchange"}, "absolute"),
    # what a shell makes of `BPC_COURSE_DIR=~/course` (root's home), and ~ left as is by systemd
    ({"BPC_COURSE_DIR": str(Path.home() / "course")}, "hub's own home"),
    ({"BPC_COURSE_DIR": "~/course"}, "{home}/course"),
    ({"BPC_COURSE_DIR": "course"}, "absolute"),
    # systemd's EnvironmentFile= keeps inline comments and quotes; the shell drops them
    ({"BPC_HUB_IP": "127.0.0.1              # behind an HTTPS reverse proxy"}, "inline comment"),
    ({"BPC_HUB_PORT": "8000 # the proxy"}, "inline comment"),
    ({"BPC_INSTRUCTORS": '"lee,kim"'}, "without quotes"),
])
def test_settings_that_cannot_work_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HubSettings.from_env(env)


def test_each_role_gets_its_own_tools() -> None:
    settings = HubSettings(gradebook_url="postgresql://grader:pw@db/course", course_dir="/srv/course")
    student = user_environment(settings, "student")
    teacher = user_environment(settings, "instructor")
    assert student["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [
        str(HUB_DIR / "student"), str(HUB_DIR / "nbgrader"), str(HUB_DIR / "server")]
    assert teacher["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(HUB_DIR / "nbgrader"), str(HUB_DIR / "server")]
    assert "BPC_GRADEBOOK_URL" not in student and "BPC_COURSE_DIR" not in student, "students get no gradebook"
    assert teacher["BPC_GRADEBOOK_URL"] == settings.gradebook_url and teacher["BPC_COURSE_DIR"] == "/srv/course"
    at_home = user_environment(HubSettings(), "instructor", "/home/ann", "ann")
    assert at_home["BPC_COURSE_DIR"] == "/home/ann/course"
    named = user_environment(HubSettings(course_dir="/srv/courses/{username}/bp"), "instructor", "/home/ann", "ann")
    assert named["BPC_COURSE_DIR"] == "/srv/courses/ann/bp"
    with pytest.raises(ValueError):
        user_environment(settings, "admin")


def test_terminals_keep_the_servers_path() -> None:
    """JupyterLab's default terminal is a login shell whose /etc/profile resets PATH: the hub names a plain bash."""
    server = json.loads((HUB_DIR / "server" / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["terminado_settings"]["shell_command"] == ["/bin/bash"]


def test_every_guide_block_is_run_by_the_guide_test() -> None:
    """Each sh block of docs/deploy.md says who runs it; the guide's test runs all but the not-run ones."""
    blocks = guide_blocks()
    kinds = [b.kind for b in blocks]
    assert kinds.count("root-service") == 1 and kinds.count("instructor-terminal") == 3, kinds
    assert kinds.count("root") >= 5
    # before "Past one machine", only systemd is not run; past it, each not-run block says why in its marker
    past = DEPLOY_GUIDE.read_text().split("\n## Past one machine", 1)[0].count("\n") + 1
    one_machine = [b for b in blocks if b.line < past]
    assert [b for b in one_machine if b.kind == "not-run"] == [b for b in one_machine if "systemctl" in b.text]
    assert kinds.count("ngshare-terminal") == 2, "test_hub_cycle.py runs the two ngshare blocks"
    text = DEPLOY_GUIDE.read_text()
    assert "sudo" not in text and "~/" not in text, "the guide needs no sudo and no ~ paths"
    hub_env = next(b.text for b in blocks if "hub.env <<" in b.text)
    env = dict(ln.split("=", 1) for ln in hub_env.split("<<'EOF'\n", 1)[1].split("\nEOF", 1)[0].splitlines()
               if ln and not ln.startswith("#"))
    settings = HubSettings.from_env(env)  # the guide's settings pass the checks
    assert settings.course_dir == "{home}/course" and settings.spawner == "local" and not settings.password


def test_systemd_unit_starts_what_the_guide_starts() -> None:
    (service,) = [b for b in guide_blocks() if b.kind == "root-service"]
    source_line, start_line = service.lines
    unit = systemd_unit(HUB_DIR / "backprop-course-hub.service")
    assert source_line == f"set -a; . {unit['EnvironmentFile']}; set +a"
    assert start_line == unit["ExecStart"]


def test_the_access_table_covers_every_account_and_private_folder() -> None:
    rows = {r.path: r for r in access_table()}
    assert set(next(iter(rows.values())).access) == {"lee", "s0001"}
    private_paths = ("/usr/local/src/backprop-course", "/home/lee/course", "/home/s0002",
                     "/etc/backprop-course/hub.env")
    for private in private_paths:
        assert rows[private].access["s0001"] == "no", private
    assert rows["/home/s0001"].mode == rows["/home/lee"].mode == 0o700


def test_release_without_notebooks_says_where_they_go(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An installed package has no notebooks/: release names --notebooks instead of failing deep inside."""
    from autograder.cli import main

    code = main(["release", "--course-dir", str(tmp_path / "c"), "--notebooks", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2 and "--notebooks" in err and "Traceback" not in err, err


def test_students_have_every_instructor_tool_of_nbgrader_off() -> None:
    server = json.loads((HUB_DIR / "student" / "jupyter_server_config.d" / "backprop-course-student.json").read_text())
    switches = server["ServerApp"]["jpserver_extensions"]
    assert set(nbgrader_server_extensions()) <= set(switches), "a new nbgrader server extension needs a decision"
    assert switches["nbgrader.server_extensions.assignment_list"] is True
    assert not switches["nbgrader.server_extensions.formgrader"]
    assert not switches["nbgrader.server_extensions.course_list"]
    lab = json.loads((HUB_DIR / "student" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert {k for k, off in lab.items() if off} == {"@jupyter/nbgrader:formgrader",
                                                    "@jupyter/nbgrader:create-assignment",
                                                    "@jupyter/nbgrader:course-list"}


def test_nbgrader_config_for_a_student(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**user_environment(HubSettings(exchange_root="/srv/ex", course_id="bp"), "student"),
           "JUPYTERHUB_USER": "ada"}
    c = _nbgrader_config(env, monkeypatch)
    assert c.Exchange.root == "/srv/ex" and c.CourseDirectory.course_id == "bp"
    assert c.CourseDirectory.student_id == "ada", "the student id is the hub's user name, not the Unix user's"
    assert "db_url" not in c.CourseDirectory and "root" not in c.CourseDirectory


@pytest.mark.parametrize("spawner", ["local", "simple"])
def test_nbgrader_config_for_an_instructor(spawner: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = HubSettings(gradebook_url="postgresql://grader:pw@127.0.0.1:5432/course", spawner=spawner)
    env = {**user_environment(settings, "instructor", tmp_path, "ann"), "JUPYTERHUB_USER": "ann", "HOME": str(tmp_path)}
    c = _nbgrader_config(env, monkeypatch)
    assert c.CourseDirectory.root == str(tmp_path / "course")
    hide = "autograder.grading.feedback.HideHiddenTests"
    assert hide in c.GenerateFeedback.preprocessors, "nbgrader's own feedback hides hidden tests in any folder"
    assert c.CourseDirectory.db_url == "postgresql+psycopg://grader:pw@127.0.0.1:5432/course"
    assert "student_id" not in c.CourseDirectory, "collect must see every student"
    # one Unix user runs every server with the simple spawner: nbgrader's owner check would flag everyone
    assert ("check_owner" in c.CollectApp) == (spawner == "simple")


def test_hub_configuration_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """jupyterhub_config.py gives JupyterHub the settings (loaded as JupyterHub loads it)."""
    settings = HubSettings(state_dir=tmp_path / "state", port=8123, instructors=("ann",), students=("s1",),
                           password="a-long-password", api_token="t" * 32)
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    c = PyFileConfigLoader("jupyterhub_config.py", path=str(HUB_DIR)).load_config()
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8123"
    assert c.Authenticator.allowed_users == {"ann", "s1"}
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.ConfigurableHTTPProxy.command == [settings.proxy_command]
    assert c.JupyterHub.load_groups["instructors"] == {"users": ["ann"]}
    assert c.JupyterHub.services[0]["name"] == "course-admin"
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0, "the hub's secrets are private"


_SIGINT_PROBE = """
import signal, subprocess, sys
from traitlets.config import PyFileConfigLoader
assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # as a shell's background job starts the hub
PyFileConfigLoader("jupyterhub_config.py", path=sys.argv[1]).load_config()
child = subprocess.Popen(["sleep", "30"])  # a process the hub starts (a server, the ngshare service)
ignored = next(line for line in open(f"/proc/{child.pid}/status") if line.startswith("SigIgn:"))
child.kill()
print(int(ignored.split()[1], 16) >> (signal.SIGINT - 1) & 1)
"""


def test_processes_the_hub_starts_stop_at_its_sigint_even_when_it_was_started_ignoring_it(tmp_path: Path) -> None:
    """Before: ngshare inherited SIGINT ignored from a hub started in the background; each stop took 30 s more."""
    import signal
    import subprocess

    settings = HubSettings(state_dir=tmp_path / "state", instructors=("ann",), students=("s1",),
                           password="a-long-password", api_token="t" * 32)
    env = {**os.environ, **settings_env(settings)}
    run = subprocess.run([sys.executable, "-c", _SIGINT_PROBE, str(HUB_DIR)], env=env, capture_output=True,
                         text=True, timeout=120, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "0", "the hub's children would ignore SIGINT"


@pytest.mark.hub  # two fresh processes that import nbgrader: not the fast tier
def test_the_course_command_takes_the_hub_settings_from_the_environment(tmp_path: Path) -> None:
    """An instructor's server has BPC_COURSE_DIR, BPC_GRADEBOOK_URL and BPC_COURSE_ID set: backprop-course uses
    them as defaults, so its commands need no --course-dir/--db and write the same course id nbgrader uses."""
    import subprocess
    import sys

    env = {**os.environ, "BPC_COURSE_DIR": str(tmp_path / "c"), "BPC_GRADEBOOK_URL": "postgresql://h/gb",
           "BPC_COURSE_ID": "bp-2026"}
    code = ("from autograder.cli import build_parser\nfrom autograder.coursedir.course import COURSE_ID, CourseDir, "
            "nbgrader_config\na = build_parser().parse_args(['grade'])\nc = CourseDir.at(a.course_dir, a.db)\n"
            "print(c.root, c.db_url, nbgrader_config(c).CourseDirectory.course_id)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(tmp_path / "c"), "postgresql+psycopg://h/gb", "bp-2026"]
    bad = subprocess.run([sys.executable, "-m", "autograder.cli", "report"], capture_output=True, text=True,
                         env={**env, "BPC_COURSE_ID": "no spaces"})
    assert bad.returncode == 2 and "BPC_COURSE_ID" in bad.stderr and "Traceback" not in bad.stderr


def test_ngshare_exchange_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """BPC_EXCHANGE=ngshare: the hub runs ngshare as a service; nbgrader's exchange is ngshare_exchange."""
    with pytest.raises(ValueError, match="BPC_EXCHANGE must be 'files' or 'ngshare'"):
        HubSettings.from_env({"BPC_EXCHANGE": "nfs"})
    with pytest.raises(ValueError, match="BPC_NGSHARE_DIR must be an absolute path"):
        HubSettings.from_env({"BPC_EXCHANGE": "ngshare", "BPC_NGSHARE_DIR": "ngshare"})
    settings = HubSettings(exchange="ngshare", ngshare_dir=str(tmp_path / "ng"), ngshare_port=10999, port=9000,
                           instructors=("ann",), students=("ada",), ngshare_python=sys.executable)
    assert HubSettings.from_env(settings_env(settings)) == settings
    from course_hub import ngshare_service

    with pytest.raises(ValueError, match="make hub-ngshare"):
        ngshare_service(dataclasses.replace(settings, ngshare_python=str(tmp_path / "no-env" / "python")))
    service = ngshare_service(settings)
    assert service["url"] == "http://127.0.0.1:10999" and service["command"][0] == settings.ngshare_python
    assert service["command"][service["command"].index("--admins") + 1] == "ann"
    assert os.stat(tmp_path / "ng").st_mode & 0o777 == 0o700, "ngshare's database: the hub's user only"
    student = {**user_environment(settings, "student"), "JUPYTERHUB_USER": "ada"}
    assert student["BPC_NGSHARE_URL"] == "http://127.0.0.1:9000/services/ngshare", "through the proxy"
    c = _nbgrader_config(student, monkeypatch)
    import ngshare_exchange

    assert c.ExchangeFactory.submit is ngshare_exchange.ExchangeSubmit
    assert c.ExchangeFactory.collect is ngshare_exchange.ExchangeCollect
    assert ngshare_exchange.Exchange._ngshare_url == student["BPC_NGSHARE_URL"]
    assert "student_id" not in c.CourseDirectory, "ngshare knows the student from their hub token"
    files = {**user_environment(HubSettings(), "student"), "JUPYTERHUB_USER": "ada"}
    assert "BPC_NGSHARE_URL" not in files and "ExchangeFactory" not in _nbgrader_config(files, monkeypatch)
