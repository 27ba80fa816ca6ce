"""Kubernetes (docs/deploy.md, "### Kubernetes"): what can be checked without a cluster or a Docker daemon.

* ``deploy/k8s/values.yaml`` applied as Zero to JupyterHub's ``jupyterhub_config.py`` applies it
  (:func:`z2jh_config`: the chart's mapping of the keys the file uses, ``hub.config`` passed through to
  traitlets, ``hub.extraConfig`` executed), then KubeSpawner and the LTI 1.3 authenticator instantiated
  with that configuration: the course image, per-user storage, the ngshare service, the LMS's settings, and
  the gradebook's URL in instructors' servers only (from its k8s Secret, never in the values).
* The ``Dockerfile``'s install steps run in a fresh virtual environment (``grading`` tier: it builds the
  wheel and installs the package from PyPI): the result imports ``course_lib``, runs ``backprop-course
  --help`` and loads the image's nbgrader configuration with ngshare's exchange.
* Nothing the image is built from (what ``COPY`` puts in) or holds (the wheel) has a line of a solution or a
  hidden test: the hub guide's scanner (:mod:`testkit.solution_lines`).

Not run here: ``docker build`` itself (its ``apt-get`` step and the base image) and ``helm install``.
"""

from __future__ import annotations

import asyncio
import glob
import importlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from traitlets.config import Config

from testkit.solution_lines import leaks, secret_lines

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "k8s" / "values.yaml"
DOCKERFILE = ROOT / "Dockerfile"
GRADEBOOK_SECRET = {"valueFrom": {"secretKeyRef": {"name": "backprop-course-gradebook", "key": "url"}}}


# ------------------------------------------------------------------------------------------ the chart's mapping

def _run_apart(coroutine):
    """``asyncio.run`` in a thread of its own: a test before this one in the same pytest process may leave an
    event loop running in the main thread (nbclient's), where ``asyncio.run`` refuses to start."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

def _get(values: dict, key: str, default: Any = None) -> Any:
    for level in key.split("."):
        if not isinstance(values, dict) or level not in values:
            return default
        values = values[level]
    return values


def _singleuser(c: Config, values: dict) -> None:
    """The chart's ``singleuser.*`` -> ``c.KubeSpawner`` / ``c.Spawner`` lines, for the keys the values use."""
    image = _get(values, "singleuser.image.name")
    if image:
        tag = _get(values, "singleuser.image.tag")
        c.KubeSpawner.image = f"{image}:{tag}" if tag else image
    for trait, key in (("mem_limit", "memory.limit"), ("mem_guarantee", "memory.guarantee"),
                       ("cpu_limit", "cpu.limit"), ("cpu_guarantee", "cpu.guarantee"),
                       ("environment", "extraEnv")):
        if _get(values, f"singleuser.{key}") is not None:
            setattr(c.KubeSpawner, trait, _get(values, f"singleuser.{key}"))
    if _get(values, "singleuser.cmd") is not None:
        c.Spawner.cmd = _get(values, "singleuser.cmd")
    if _get(values, "singleuser.defaultUrl") is not None:
        c.Spawner.default_url = _get(values, "singleuser.defaultUrl")
    if _get(values, "singleuser.storage.type") == "dynamic":  # the chart's defaults for the names
        name = _get(values, "singleuser.storage.dynamic.volumeNameTemplate", "volume-{user_server}")
        c.KubeSpawner.pvc_name_template = _get(values, "singleuser.storage.dynamic.pvcNameTemplate",
                                               "claim-{user_server}")
        c.KubeSpawner.storage_pvc_ensure = True
        c.KubeSpawner.storage_capacity = _get(values, "singleuser.storage.capacity")
        c.KubeSpawner.storage_access_modes = _get(values, "singleuser.storage.dynamic.storageAccessModes")
        c.KubeSpawner.volumes = {name: {"name": name, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
        c.KubeSpawner.volume_mounts = {name: {"mountPath": _get(values, "singleuser.storage.homeMountPath"),
                                              "name": name}}


def z2jh_config(values: dict, secrets: dict[str, str]) -> Config:
    """``values`` applied as the chart's ``jupyterhub_config.py`` does (``secrets``: the k8s Secret's keys)."""
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    _singleuser(c, values)
    c.JupyterHub.services = []
    for key, service in _get(values, "hub.services", {}).items():
        service = {"name": key, **service}
        service.pop("apiToken", None)
        service["api_token"] = secrets[f"hub.services.{key}.apiToken"]
        c.JupyterHub.services.append(service)
    for section, cfg in _get(values, "hub.config", {}).items():
        assert section[:1].isupper(), f"hub.config.{section}: the chart refuses a section that is not a class name"
        c[section].update(cfg)
    for _key, code in sorted(_get(values, "hub.extraConfig", {}).items()):
        exec(code, {"c": c})  # as the chart does: extraConfig sees the config object ``c``
    return c


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def config(values) -> Config:
    return z2jh_config(values, {"hub.services.ngshare.apiToken": "token-from-the-secret"})


@pytest.fixture(scope="module", autouse=True)
def kubeconfig(tmp_path_factory):
    """A kubeconfig naming a cluster that is never contacted (KubeSpawner loads one when it is made)."""
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "none", "user": {"token": "none"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
    }))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", str(path))
        yield path


async def _spawner(config: Config, name: str, groups: list[str]):
    """A KubeSpawner for user ``name`` in ``groups``, its profile loaded (made in a running event loop, as
    in the hub)."""
    from kubespawner import KubeSpawner

    user = SimpleNamespace(name=name, id=7, url=f"/user/{name}/", groups=[SimpleNamespace(name=g) for g in groups],
                           escaped_name=name)
    spawner = KubeSpawner(config=config, _mock=True, user=user)
    spawner.user_options = {}
    await spawner.load_user_options()
    return spawner


async def _pod(config: Config, name: str, groups: list[str]) -> tuple[Any, dict, dict[str, Any]]:
    """(spawner, the pod it would create as the API gets it, its user container's environment) for ``name``."""
    from kubernetes_asyncio.client import ApiClient

    spawner = await _spawner(config, name, groups)
    async with ApiClient() as api:
        pod = api.sanitize_for_serialization(await spawner.get_pod_manifest())
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in pod["spec"]["containers"][0]["env"]}
    return spawner, pod, env


# ---------------------------------------------------------------------------------------------------- values
def test_kubespawner_runs_the_course_image_with_per_user_storage(config):
    spawner, pod, _env = _run_apart(_pod(config, "lti-sub-1234", []))
    assert spawner.image == "registry.example.edu/backprop-course:0.1.0"
    assert spawner.cmd == ["jupyterhub-singleuser"] and spawner.default_url == "/lab"
    assert spawner.mem_limit == 2 * 1024**3 and spawner.cpu_limit == 2.0
    assert spawner.storage_pvc_ensure and spawner.storage_capacity == "2Gi"
    pvc = spawner.get_pvc_manifest()
    assert pvc.metadata.name == "claim-lti-sub-1234" and pvc.spec.access_modes == ["ReadWriteOnce"]
    container = pod["spec"]["containers"][0]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/home/jovyan"]
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"] == {"claimName": "claim-lti-sub-1234"}
    assert container["image"] == "registry.example.edu/backprop-course:0.1.0"


def test_the_gradebook_url_reaches_instructors_only_and_only_from_its_secret(config, values):
    instructor = _run_apart(_pod(config, "lee", ["instructors"]))[2]
    student = _run_apart(_pod(config, "s0001", []))[2]
    assert instructor["BPC_GRADEBOOK_URL"] == GRADEBOOK_SECRET["valueFrom"]
    assert instructor["BPC_COURSE_DIR"] == "/home/jovyan/course"
    assert "BPC_GRADEBOOK_URL" not in student and "BPC_COURSE_DIR" not in student
    for env in (instructor, student):
        assert env["BPC_COURSE_ID"] == "backprop-course"
        assert env["BPC_NGSHARE_URL"] == "http://ngshare.backprop-course.svc.cluster.local:8080/services/ngshare"
    text = VALUES.read_text()
    assert "postgresql://" not in text and not re.search(r"(?i)api_?token:\s*\S", text), "secrets stay out"


def test_ngshare_is_a_hub_service_the_servers_can_reach(config, values):
    (service,) = [s for s in config.JupyterHub.services if s["name"] == "ngshare"]
    assert service == {"name": "ngshare", "url": "http://ngshare.backprop-course.svc.cluster.local:8080",
                       "api_token": "token-from-the-secret"}
    assert values["singleuser"]["extraEnv"]["BPC_NGSHARE_URL"] == service["url"] + "/services/ngshare"
    (rule,) = values["singleuser"]["networkPolicy"]["egress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert rule["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ngshare"}}}]


def test_the_hub_logs_in_with_lti_1_3(config):
    from jupyterhub.app import JupyterHub

    app = JupyterHub(config=config)
    assert app.authenticator_class.__module__ == "ltiauthenticator.lti13.auth"
    module, _, name = config.JupyterHub.spawner_class.rpartition(".")
    assert getattr(importlib.import_module(module), name).__name__ == "KubeSpawner"
    authenticator = app.authenticator_class(config=config)
    assert type(authenticator).__name__ == "LTI13Authenticator"
    assert authenticator.issuer == "https://canvas.instructure.com"
    assert authenticator.client_id == {"10000000000001"}
    assert authenticator.jwks_endpoint.endswith("/api/lti/security/jwks")
    assert authenticator.authorize_url.endswith("/api/lti/authorize_redirect")
    assert authenticator.username_key == "sub" and authenticator.allow_all
    assert config.JupyterHub.load_groups == {"instructors": {"users": []}}


# ------------------------------------------------------------------------------------------------ Dockerfile
def dockerfile_steps(path: Path = DOCKERFILE) -> list[tuple[int, str, str]]:
    """``(stage, instruction, argument)`` for every instruction, continuation lines joined."""
    steps, stage, pending = [], -1, ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if line.endswith("\\"):
            continue
        word, _, arg = pending.partition(" ")
        stage += word.upper() == "FROM"
        steps.append((stage, word.upper(), arg.strip()))
        pending = ""
    return steps


def _copied_files() -> list[Path]:
    """Every file of the build context a ``COPY`` (not ``COPY --from``) puts into an image."""
    out: list[Path] = []
    for _stage, word, arg in dockerfile_steps():
        if word == "COPY" and not arg.startswith("--from"):
            for src in arg.split()[:-1]:
                for path in [Path(p) for p in glob.glob(str(ROOT / src))]:
                    out += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return out


def _secrets() -> list[str]:
    """The solutions' and hidden tests' lines, less those course_lib holds (public by design, as on the hub)."""
    public = "\n".join(p.read_text() for p in (ROOT / "course_lib").rglob("*.py"))
    found = [line for line in secret_lines(ROOT / "notebooks") if line not in public]
    assert len(found) > 10, found
    return found


def test_the_dockerfile_copies_only_the_package_and_its_scanned_files_hold_no_solution():
    copied = _copied_files()
    top = {p.relative_to(ROOT).parts[0] for p in copied}
    assert top == {"pyproject.toml", "README.md", "autograder", "course_lib", "deploy"}, top
    assert not [p for p in copied if p.suffix == ".ipynb"], "no notebook goes into the image"
    secrets_ = _secrets()
    found = {str(p.relative_to(ROOT)): hits for p in copied if p.suffix != ".pyc"
             for hits in [leaks(p.read_text(errors="replace"), secrets_)] if hits}
    assert not found, found
    notebook = next((ROOT / "notebooks").glob("*/*.ipynb"))
    assert leaks(notebook.read_text(), secrets_), "the scanner finds the solutions where they are"


IMAGE_PATHS = ("/tmp/wheels", "/wheels")  # the image's folders the replayed steps use, mapped under tmp


def _mapped(text: str, tmp: Path) -> str:
    """``text`` with each of :data:`IMAGE_PATHS` replaced by its folder under ``tmp`` (in one pass)."""
    pattern = "|".join(re.escape(p) for p in IMAGE_PATHS)
    return re.sub(rf"(?<![\w/.-])({pattern})(?![\w.-])", lambda m: str(tmp / m.group(1).strip("/").replace("/", "-")),
                  text)


def _run_step(command: str, venv: Path, tmp: Path, cwd: Path) -> None:
    """One RUN line, run with bash in the fresh venv, the image's folders mapped under ``tmp``."""
    command = _mapped(command, tmp)
    # PIP_NO_COMPILE: pip's byte-compiling of every installed module (a third of the step's CPU here) changes
    # no file the course runs; the image's build does it
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "VIRTUAL_ENV": str(venv),
           "PIP_NO_COMPILE": "1"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(["bash", "-ec", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, f"{command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"


def _replay_copy(arg: str, workdir: Path) -> None:
    """``COPY SRC... DEST`` of the build context into ``workdir`` (the stage's WORKDIR)."""
    *sources, dest = arg.split()
    for source in sources:
        path = ROOT / source
        target = workdir / dest
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / path.name)


@pytest.fixture(scope="module")
def image_env(tmp_path_factory) -> tuple[Path, Path]:
    """The Dockerfile's COPY and pip RUN steps replayed in a fresh venv; returns (venv, wheel)."""
    tmp = tmp_path_factory.mktemp("image")
    src, venv = tmp / "src", tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # a plain venv with its own pip
    for stage, word, arg in dockerfile_steps():
        if word == "COPY" and stage == 0:
            _replay_copy(arg, src)
        elif word == "COPY" and arg.startswith("--from=wheel "):  # the built wheel into the second stage
            _from, source, dest = arg.split()
            shutil.copytree(_mapped(source, tmp), _mapped(dest, tmp))
        elif word == "RUN" and "pip " in arg:  # apt-get (root, the base image's Debian) is not run here
            _run_step(arg, venv, tmp, src)
    (wheel,) = (tmp / "wheels").glob("backprop_course-*.whl")
    assert not (tmp / "tmp-wheels").exists(), "the image removes its copy of the wheel"
    return venv, wheel


@pytest.mark.grading
def test_the_dockerfile_install_steps_give_a_working_course(image_env):
    venv, _ = image_env
    python = venv / "bin" / "python"
    # as in a user's server: the hub names the user (ngshare_exchange reads it when imported)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "JUPYTERHUB_USER": "s0001"}
    probe = subprocess.run([str(python), "-c", "import course_lib, autograder, ngshare_exchange, jupyterhub; "
                            "print(course_lib.__file__)"], capture_output=True, text=True, env=env, cwd="/")
    assert probe.returncode == 0 and str(venv) in probe.stdout, probe.stderr
    helped = subprocess.run([str(venv / "bin" / "backprop-course"), "--help"], capture_output=True, text=True,
                            env=env, cwd="/", timeout=300)
    assert helped.returncode == 0 and "grade" in helped.stdout and "release" in helped.stdout, helped.stderr
    folder = str(ROOT / "deploy" / "k8s")
    load = ("from traitlets.config.loader import PyFileConfigLoader as L; "
            f"c = L('nbgrader_config.py', path={folder!r}).load_config(); "
            "print(c.ExchangeFactory.exchange, c.CourseDirectory.course_id)")
    loaded = subprocess.run([str(python), "-c", load], capture_output=True, text=True, cwd="/",
                            env={**env, "BPC_NGSHARE_URL": "http://ngshare:8080/services/ngshare"})
    assert loaded.returncode == 0, loaded.stderr
    assert "ngshare_exchange" in loaded.stdout and "backprop-course" in loaded.stdout, loaded.stdout


@pytest.mark.grading
def test_the_wheel_in_the_image_holds_no_solution(image_env):
    _, wheel = image_env
    secrets_ = _secrets()
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        found = {n: hits for n in names for hits in [leaks(z.read(n).decode(errors="replace"), secrets_)] if hits}
    assert not found, found
    assert not [n for n in names if n.endswith(".ipynb") or n.startswith("notebooks/")], names
    assert any(n.startswith("course_lib/") for n in names) and any(n.startswith("autograder/") for n in names)
