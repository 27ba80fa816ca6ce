"""The grading sandbox: student code runs in a bubblewrap kernel that cannot read secrets or hurt the grader.

Every attack runs inside a real sandboxed kernel: through the worker's ``grade_submission`` (nbgrader's
autograde, as ``backprop-course grade`` runs it, with :func:`autograder.isolation.sandbox.sandboxed`'s config) or
through nbclient with :class:`autograder.isolation.capped_execute.CappedExecute` and the same config.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

import autograder.coursedir.course
from autograder.commands.sample_class import solved
from autograder.coursedir.course import REPO_ROOT, CourseDir
from autograder.isolation.cgroups import CGROUP_GROUP, pids_group_folders
from autograder.isolation.sandbox import (
    AUTOGRADE_PREPROCESSORS,
    KERNEL_NAME,
    CappedExecute,
    Limits,
    cleanup_cgroups,
    sandbox_available,
    sandbox_command,
    sandbox_config,
    sandboxed,
)
from autograder.isolation.sandbox_kernel import build_bwrap_command
from testkit.pipeline_fixture import released_course


def first_closed_ancestor(path: Path) -> Path | None:
    """The outermost folder on ``path`` that other users cannot traverse (e.g. /root, 0700), if any."""
    for folder in [*reversed(path.parents), path]:
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def needs_sandbox(test):
    """A test that runs student code in the sandbox: the kernel tier, and skipped where bwrap cannot run
    (checked once, when the first such test runs: tests/conftest.py)."""
    return pytest.mark.kernel(pytest.mark.needs_sandbox(test))

PROBE_MARK = "SANDBOX-PROBE "
PROBE = '''
import json as _json, os as _os, socket as _socket
def _try(f):
    try:
        return "ok: " + repr(f())[:200]
    except BaseException as e:
        return f"{type(e).__name__}: {e}"[:200]
_r = {
    "uid": _os.getuid(),
    "source_rel": _try(lambda: _os.listdir("../../../source")),
    "source_abs": _try(lambda: _os.listdir(COURSE + "/source")),
    "hidden_test": _try(lambda: open(COURSE + "/source/01-double/double.ipynb").read()),
    "gradebook_rel": _try(lambda: open("../../../gradebook.db", "rb").read(16)),
    "gradebook_abs": _try(lambda: open(COURSE + "/gradebook.db", "rb").read(16)),
    "repo_notebooks": _try(lambda: _os.listdir(REPO + "/notebooks")),
    "repo_tests": _try(lambda: open(REPO + "/testkit/pipeline_fixture.py").read()),
    "write_course": _try(lambda: open(COURSE + "/pwned.txt", "w").write("x")),
    "write_repo": _try(lambda: open(REPO + "/" + PWN, "w").write("x")),
    "write_etc": _try(lambda: open("/etc/" + PWN, "w").write("x")),
    "write_cwd": _try(lambda: open("made-by-student.txt", "w").write("x")),
    "tcp": _try(lambda: _socket.create_connection(("127.0.0.1", PORT), timeout=3).close()),
    "shadow": _try(lambda: open("/etc/shadow").read(10)),
}
print("SANDBOX-PROBE " + _json.dumps(_r))
'''


def grade_in_sandbox(course: CourseDir, student: str, nb: nbformat.NotebookNode, *, limits: Limits | None = None,
                     cell_timeout: int = 10):
    """Hand in ``nb`` for 01-double as ``student`` and grade it with the worker (sandboxed by default)."""
    from autograder.grading.worker import Job, grade_submission

    folder = course.root.parent / "incoming" / student / "01-double"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / "double.ipynb"))
    scratch = course.state / "work" / f"{student}__01-double"
    job = Job(student=student, assignment="01-double", submission=str(folder), source=str(course.source),
              template_db=str(course.root / "gradebook.db"), scratch=str(scratch), notebooks=("double",),
              cell_timeout=cell_timeout, limits=limits.to_json() if limits else "")
    assert job.sandbox and job.verify  # the defaults: the kernel and the re-check's host both sandboxed
    return grade_submission(job), scratch


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released two-assignment nbgrader course (testkit/pipeline_fixture.py)."""
    return released_course(tmp_path_factory.mktemp("sandbox"))[0]


def _submission(course: CourseDir, extra_code: str = "") -> nbformat.NotebookNode:
    release_nb = nbformat.read(str(course.release / "01-double" / "double.ipynb"), as_version=4)
    source_nb = nbformat.read(str(course.source / "01-double" / "double.ipynb"), as_version=4)
    return solved(release_nb, source_nb, mutate={"double-answer": lambda code: code + "\n" + extra_code})


def _outputs(path: Path) -> list[dict]:
    nb = nbformat.read(str(path), as_version=4)
    return [out for cell in nb.cells for out in cell.get("outputs", [])]


# ---------------------------------------------------------------------------------------------------------
# through nbgrader, as the worker grades


@needs_sandbox
def test_correct_submission_scores_full_marks_in_the_sandbox(course):
    result, _ = grade_in_sandbox(course, "s01-correct", _submission(course, "import os\nprint('uid', os.getuid())"))
    assert (result.score, result.max_score) == (3, 3), result
    assert result.status.ok, result.status
    texts = "".join(o.get("text", "") for o in _outputs(Path(result.autograded) / "double.ipynb"))
    assert "uid 65534" in texts  # it really ran in the sandbox, as nobody
    assert result.feedback and list(Path(result.feedback).glob("*.html"))


@pytest.fixture(scope="module")
def probe(course):
    """A correct submission whose answer cell also tries to read secrets, write outside, and reach the grader."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    pwn = f".sandbox-probe-{uuid.uuid4().hex[:8]}"
    header = f"COURSE = {str(course.root)!r}\nREPO = {str(REPO_ROOT)!r}\nPORT = {port}\nPWN = {pwn!r}\n"
    try:
        result, scratch = grade_in_sandbox(course, "s02-probe", _submission(course, header + PROBE))
    finally:
        listener.close()
        for path in (REPO_ROOT / pwn, Path("/etc") / pwn):
            if path.exists():
                path.unlink()
    texts = "".join(o.get("text", "") for o in _outputs(Path(result.autograded) / "double.ipynb"))
    line = next(ln for ln in texts.splitlines() if ln.startswith(PROBE_MARK))
    return result, json.loads(line[len(PROBE_MARK):]), pwn


@needs_sandbox
def test_probe_still_scores_full_marks(probe):
    result, found, _ = probe
    assert (result.score, result.max_score) == (3, 3), (result, found)


@needs_sandbox
def test_course_source_and_gradebook_are_hidden(probe):
    _, found, _ = probe
    for key in ("source_rel", "source_abs", "hidden_test", "gradebook_rel", "gradebook_abs"):
        assert not found[key].startswith("ok"), (key, found[key])
    assert "SECRET_HIDDEN_CHECK" not in json.dumps(found)


@needs_sandbox
def test_repository_solutions_and_tests_are_hidden(probe):
    _, found, _ = probe
    assert found["repo_notebooks"].startswith("FileNotFoundError"), found["repo_notebooks"]
    assert found["repo_tests"].startswith("FileNotFoundError"), found["repo_tests"]


@needs_sandbox
def test_nothing_is_written_outside_the_work_folder(probe, course):
    result, found, pwn = probe
    for key in ("write_course", "write_repo", "write_etc"):
        assert not found[key].startswith("ok"), (key, found[key])
    assert not (course.root / "pwned.txt").exists()
    assert not (REPO_ROOT / pwn).exists() and not (Path("/etc") / pwn).exists()
    # the kernel's folder is a private copy: what it writes never reaches the graded folder
    assert found["write_cwd"].startswith("ok"), found["write_cwd"]
    assert not (Path(result.autograded) / "made-by-student.txt").exists()


@needs_sandbox
def test_no_network_and_no_privileges(probe):
    _, found, _ = probe
    assert found["tcp"].startswith(("ConnectionRefusedError", "OSError", "TimeoutError")), found["tcp"]
    assert found["uid"] == 65534
    assert found["shadow"].startswith("FileNotFoundError"), found["shadow"]  # not in the view at all


@needs_sandbox
def test_kernel_death_fails_the_submission_not_the_grader(course):
    result, _ = grade_in_sandbox(course, "s03-exit", _submission(course, "import os\nos._exit(1)"))
    assert result.score == 0 and "process died" in str(result.status), result.status
    # the grader returned normally, and the student still gets a page (every test not judged: failed)
    assert list(Path(result.feedback).glob("*.html")), result.feedback


@needs_sandbox
def test_a_cell_timeout_interrupts_the_sandboxed_kernel(course):
    # interrupt_mode "message": the kernel interrupts itself; the test cells after the loop still run
    result, _ = grade_in_sandbox(course, "s06-loop", _submission(course, "while True:\n    pass"), cell_timeout=3)
    assert result.score == 3 and "timed out" in str(result.status), result


@needs_sandbox
def test_huge_output_is_truncated_and_the_saved_notebook_stays_small(course):
    code = "print('z' * (20 * 2**20))\nfor _ in range(20):\n    print('y' * 2**20)"
    result, _ = grade_in_sandbox(course, "s04-huge", _submission(course, code))
    assert result.score == 3, result
    saved = Path(result.autograded) / "double.ipynb"
    assert saved.stat().st_size < 3 * 2**20, saved.stat().st_size
    assert "output truncated by the grader" in saved.read_text()


@needs_sandbox
def test_truncation_never_hides_a_failed_test(course):
    # the answer floods the output in every call, then is wrong: the assertion errors must still be recorded
    code = ("_right = double\ndef double(x):\n    print('w' * (3 * 2**20))\n    return _right(x) + 1\n"
            "print('z' * (5 * 2**20))")
    result, _ = grade_in_sandbox(course, "s05-huge-wrong", _submission(course, code))
    assert (result.score, result.max_score) == (0, 3), result
    outputs = _outputs(Path(result.autograded) / "double.ipynb")
    assert sum(o["output_type"] == "error" for o in outputs) >= 2


# ---------------------------------------------------------------------------------------------------------
# resource limits, through nbclient with the same config


def run_sandboxed(tmp_path: Path, cells: list[str], limits: Limits | None = None, timeout: int = 30,
                  stats: dict | None = None):
    """Run ``cells`` in one sandboxed kernel; return (notebook, exception or None, seconds).

    ``stats``, if given, receives what the submission's cgroups measured (peak memory, OOM kills, throttling).
    """
    scratch = tmp_path / "course" / ".grading" / "work" / "s__a"
    folder = scratch / "autograded" / "s" / "a"
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    error = None
    with sandboxed(scratch, tmp_path / "course", limits=limits) as extra:
        cfg = Config()
        for key, value in extra.items():
            section, name = key.split(".", 1)
            setattr(cfg[section], name, value)
        cfg.Execute.timeout = timeout
        start = time.perf_counter()
        try:
            CappedExecute(config=cfg).preprocess(nb, {"metadata": {"path": str(folder)}})
        except Exception as exc:  # noqa: BLE001 - DeadKernelError and friends: what the test is about
            error = exc
        seconds = time.perf_counter() - start
    if stats is not None:
        stats.update(extra.stats, cgroups=extra.cgroups)
    return nb, error, seconds


def _text(cell) -> str:
    return "".join(o.get("text", "") + str(o.get("evalue", "")) for o in cell.outputs)


@needs_sandbox
def test_numpy_and_matplotlib_run_under_the_default_limits(tmp_path):
    code = ("import numpy as np, matplotlib.pyplot as plt\n"
            "a = np.random.default_rng(0).normal(size=(400, 400)); print('det', np.isfinite(np.linalg.slogdet(a)[1]))\n"
            "plt.plot([1, 2, 3]); plt.savefig('f.png'); print('png', os.path.getsize('f.png') > 1000)\n"
            "print('threads', open('/proc/self/status').read().split('Threads:')[1].split()[0])")
    nb, error, _ = run_sandboxed(tmp_path, ["import os", code])
    assert error is None, error
    text = _text(nb.cells[1])
    assert "det True" in text and "png True" in text, nb.cells[1].outputs
    assert not any(o.get("name") == "stderr" for o in nb.cells[1].outputs), nb.cells[1].outputs


@needs_sandbox
def test_fork_bomb_is_capped_by_pids_max(tmp_path):
    bomb = ("import os, time\nkids = []\ntry:\n    for _ in range(10_000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(60)\n            os._exit(0)\n        kids.append(pid)\n"
            "except OSError as e:\n    print('stopped', type(e).__name__)\nprint('forked', len(kids))\n"
            "for pid in kids:\n    os.kill(pid, 9)\n    os.waitpid(pid, 0)")  # else the next cell has no thread
    nb, error, _ = run_sandboxed(tmp_path, [bomb, "print('still alive')"], Limits(processes=64))
    assert error is None, error
    forked = int(_text(nb.cells[0]).split("forked")[1].split()[0])
    assert "stopped BlockingIOError" in _text(nb.cells[0]) and 0 < forked < 64, _text(nb.cells[0])
    assert "still alive" in _text(nb.cells[1])
    # the submission's cgroup (and its sleeping children) are gone; groups of other graders running
    # elsewhere on this machine (named s-<their pid>-...) are not this test's business
    leftovers = [g for folder in pids_group_folders() if folder.is_dir() for g in folder.glob(f"s-{os.getpid()}-*")]
    assert not leftovers, leftovers


@needs_sandbox
def test_memory_bomb_raises_memory_error(tmp_path):
    nb, error, _ = run_sandboxed(tmp_path, ["x = bytearray(20 * 2**30)", "import numpy\ny = numpy.ones(20 * 2**27)",
                                            "print('still alive')"])
    assert error is None, error
    assert nb.cells[0].outputs[0]["ename"] == "MemoryError"
    assert nb.cells[1].outputs[0]["ename"] == "MemoryError"
    assert "still alive" in _text(nb.cells[2])


@needs_sandbox
def test_cpu_time_limit_stops_an_infinite_loop(tmp_path):
    nb, error, seconds = run_sandboxed(tmp_path, ["while True:\n    pass"], Limits(cpu_seconds=2), timeout=120)
    assert type(error).__name__ == "DeadKernelError", error
    assert seconds < 30, seconds  # the CPU limit, not the 120 s cell timeout, ended it


@needs_sandbox
def test_file_size_limit(tmp_path):
    code = ("with open('big.bin', 'wb') as f:\n    try:\n        f.write(b'x' * (3 * 2**20))\n"
            "    except OSError as e:\n        print('refused', e.errno)\n"
            "import os\nprint('size', os.path.getsize('big.bin'))")
    nb, error, _ = run_sandboxed(tmp_path, [code], Limits(file_bytes=2**20))
    assert error is None, error
    assert "refused 27" in _text(nb.cells[0]) and f"size {2**20}" in _text(nb.cells[0]), _text(nb.cells[0])


@needs_sandbox
def test_capped_execute_keeps_what_decides_a_score(tmp_path):
    cells = ["print('a' * (5 * 2**20))\nimport sys\nprint('oops', file=sys.stderr)\n1.5",
             "print('b' * (2 * 2**20))\nraise ValueError('x' * 10**6)"]
    nb, error, _ = run_sandboxed(tmp_path, cells)
    assert error is None, error
    first = nb.cells[0].outputs
    assert sum(len(o.get("text", "")) for o in first) < 1.1 * 2**20
    assert any(o.get("name") == "stderr" for o in first)
    assert [o["data"]["text/plain"] for o in first if o["output_type"] == "execute_result"] == ["1.5"]
    err = [o for o in nb.cells[1].outputs if o["output_type"] == "error"]
    assert err and err[0]["ename"] == "ValueError" and len(err[0]["evalue"]) < 5000
    assert len(nbformat.writes(nb)) < 3 * 2**20


@needs_sandbox
def test_root_mode_keeps_no_capabilities(tmp_path):
    code = (f"import os, subprocess\nprint('uid', os.getuid())\n"
            "print('CapEff', open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
            f"print('umount', subprocess.run(['umount', {str(REPO_ROOT)!r}], capture_output=True).returncode)\n"
            f"print('repo', sorted(os.listdir({str(REPO_ROOT)!r})))\n"
            f"open({str(REPO_ROOT / 'course_lib' / '.probe')!r}, 'w')")
    nb, error, _ = run_sandboxed(tmp_path, [code], Limits(uid=0, gid=0))
    assert error is None, error
    text = _text(nb.cells[0])
    assert "uid 0" in text and "CapEff 0000000000000000" in text, text
    assert "umount 0" not in text and "repo ['.venv', 'course_lib']" in text, text
    assert "Read-only file system" in text and not (REPO_ROOT / "course_lib" / ".probe").exists(), text


@needs_sandbox
def test_kernel_start_overhead(tmp_path, capsys):
    from jupyter_client import KernelManager

    folder = tmp_path / "course" / "scratch" / "autograded" / "s" / "a"
    folder.mkdir(parents=True)

    def start(name: str, config: Config) -> float:
        km = KernelManager(kernel_name=name, config=config)
        t0 = time.perf_counter()
        km.start_kernel(cwd=str(folder))
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            reply = kc.execute_interactive("pass", timeout=60)
            assert reply["content"]["status"] == "ok"
            return time.perf_counter() - t0
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    plain = [start("python3", Config()) for _ in range(3)]
    with sandboxed(tmp_path / "course" / "scratch", tmp_path / "course") as extra:
        cfg = Config()
        cfg.KernelManager.transport = extra["KernelManager.transport"]
        cfg.KernelManager.ip = extra["KernelManager.ip"]
        boxed = [start(KERNEL_NAME, cfg) for _ in range(3)]
    p, b = statistics.median(plain), statistics.median(boxed)
    with capsys.disabled():
        print(f"\nkernel start + first execute, median of 3: plain python3 {p:.2f} s, sandboxed {b:.2f} s, "
              f"overhead {b - p:+.2f} s per kernel (runs: {[round(x, 2) for x in plain]} vs "
              f"{[round(x, 2) for x in boxed]})")
    assert b - p < 3.0


# ---------------------------------------------------------------------------------------------------------
# configuration and the launcher itself


def test_limits_json_round_trip_and_validation():
    limits = Limits(memory_bytes=2**30, processes=99)
    assert Limits.from_json(limits.to_json()) == limits
    assert Limits.from_json("") == Limits()
    with pytest.raises(Exception, match="unknown limits"):
        Limits.from_json('{"memroy_bytes": 1}')
    with pytest.raises(Exception, match="non-negative integers"):
        Limits.from_json('{"cpu_seconds": -1}')


def test_bwrap_command_is_an_allow_list(tmp_path):
    lib = tmp_path / "lib"
    (lib / "x" / "secret").mkdir(parents=True)
    cmd = build_bwrap_command(
        bwrap="bwrap", kernel=["python", "-m", "ipykernel_launcher"], cwd=Path("/c/.grading/w/autograded/s/a"),
        input_dir=Path("/tmp/b/box-1/input"),
        readonly=[Path("/repo/.venv"), Path("/root/.pyenv/versions/3.11"), lib / "x"],
        hide=[Path("/c"), Path("/repo"), lib / "x" / "secret", Path("/root")], limits=Limits(),
        rootless=False, setpriv="/usr/bin/setpriv", python_bin=Path("/repo/.venv/bin"),
        system=["/usr/lib", "/etc/ld.so.cache"],
    )
    joined = " ".join(cmd)
    assert "--ro-bind / /" not in joined and "--bind / /" not in joined  # the view starts empty
    assert "--tmpfs /c " not in joined and "--tmpfs /repo " not in joined  # not in the view: nothing to hide
    # a hidden folder inside a bound one is covered after the bind
    assert joined.index(f"--ro-bind {lib / 'x'} {lib / 'x'}") < joined.index(f"--tmpfs {lib / 'x' / 'secret'}")
    assert joined.index("--perms 0755 --dir /root") < joined.index("--ro-bind /root/.pyenv/versions/3.11")
    assert "--perms 1777 --size 268435456 --tmpfs /c/.grading/w/autograded/s/a" in joined  # the working folder
    assert f"--size {Limits().tmp_bytes} --tmpfs /tmp" in joined
    assert "--ro-bind /tmp/b/box-1/input /run/sandbox-input" in joined
    assert "--bind " not in joined  # no host folder is writable (the kernel's sockets are bound outside)
    assert "--as-pid-1" not in joined  # as root, pid 1 is bwrap's own init, a root process
    assert "--cap-drop ALL" in joined and "--clearenv" in joined and "--die-with-parent" in joined
    assert "--unshare-user" not in joined
    assert cmd[cmd.index("--") + 1:][:2] == ["/usr/bin/setpriv", "--reuid=65534"]
    assert cmd[-3:] == ["python", "-m", "ipykernel_launcher"]
    rootless = build_bwrap_command(
        bwrap="bwrap", kernel=["python"], cwd=Path("/sandbox"), input_dir=Path("/tmp/b/in"),
        readonly=[], limits=Limits(), rootless=True, setpriv=None, python_bin=Path("/usr/bin"), system=[],
        nproc_inside=True)
    assert rootless[1:8] == ["--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534", "--dev"]
    assert "setpriv" not in " ".join(rootless) and "--bind" not in rootless
    # rootless: pid 1 is the non-dumpable init, which sets this sandbox's own process bound
    init = rootless[rootless.index("--as-pid-1"):]
    assert init[init.index("/run/sandbox-init.py") + 1:][:3] == ["--pid1", "--nproc", "256"]


def test_sandbox_config_for_the_worker(tmp_path):
    scratch, root = tmp_path / "course" / ".grading" / "work" / "x", tmp_path / "course"
    settings = sandbox_config(scratch, root, tmp_path / "box" / "run", limits=Limits(uid=0))
    assert settings.config["Execute.kernel_name"] == KERNEL_NAME
    assert settings.config["KernelManager.transport"] == "ipc"
    assert settings.config["Autograde.autograde_preprocessors"] == AUTOGRADE_PREPROCESSORS
    assert AUTOGRADE_PREPROCESSORS[0] == "autograder.isolation.capped_execute.CappedExecute"
    assert len(AUTOGRADE_PREPROCESSORS) == 7
    hidden = settings.env["BACKPROP_SANDBOX_HIDE"].split(os.pathsep)
    assert str(root.resolve()) in hidden and str(REPO_ROOT) in hidden and "/root" in hidden
    readonly = settings.env["BACKPROP_SANDBOX_READONLY"].split(os.pathsep)
    assert sys.prefix in readonly and str(REPO_ROOT / "course_lib") in readonly
    assert str(REPO_ROOT) not in readonly and not any(p.startswith(str(REPO_ROOT / "notebooks")) for p in readonly)
    spec = json.loads((tmp_path / "box" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json").read_text())
    assert spec["argv"][1:4] == ["-I", "-m", "autograder.isolation.sandbox_kernel"]
    assert spec["interrupt_mode"] == "message"
    # the config plugs into the course's nbgrader config
    cfg = autograder.coursedir.course.nbgrader_config(CourseDir(root, "sqlite:///x.db"), extra=settings.config)
    assert cfg.Execute.kernel_name == KERNEL_NAME and cfg.KernelManager.ip.endswith("/run/k")


@needs_sandbox
def test_launcher_refuses_a_kernel_outside_the_graded_folder(tmp_path):
    conn = tmp_path / "c.json"
    conn.write_text("{}")
    env = {**os.environ, "BACKPROP_SANDBOX_WORK": str(tmp_path), "BACKPROP_SANDBOX_NOTEBOOKS": str(tmp_path / "nb")}
    run = subprocess.run([sys.executable, "-I", "-m", "autograder.isolation.sandbox_kernel", "-f", str(conn)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "refusing to run a kernel" in run.stderr, run.stderr


def test_sandbox_available_says_why_not(monkeypatch):
    import shutil

    before = sandbox_available()
    sandbox_available.cache_clear()
    try:
        monkeypatch.setattr(shutil, "which", lambda name: None)
        ok, why = sandbox_available()
        assert not ok and why
    finally:
        monkeypatch.undo()
        sandbox_available.cache_clear()
    assert sandbox_available() == before


@needs_sandbox
def test_cleanup_cgroups_removes_only_empty_kernel_cgroups():
    folders = pids_group_folders()
    assert folders and all(f.name == CGROUP_GROUP for f in folders)
    group = folders[0]
    group.mkdir(exist_ok=True)
    idle = group / f"k-0-{uuid.uuid4().hex[:6]}"
    busy = group / f"k-1-{uuid.uuid4().hex[:6]}"
    idle.mkdir()
    busy.mkdir()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (busy / "cgroup.procs").write_text(str(sleeper.pid))
        removed = cleanup_cgroups()
        assert idle in removed and not idle.exists() and busy.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
        deadline = time.monotonic() + 5
        while busy.exists() and time.monotonic() < deadline:
            cleanup_cgroups()
            time.sleep(0.05)
    assert not busy.exists()


@needs_sandbox
def test_exec_mode_runs_a_command_sandboxed_with_inherited_pipes(tmp_path):
    scratch, root = tmp_path / "course" / ".grading" / "w", tmp_path / "course"
    (root / "source").mkdir(parents=True)
    (root / "source" / "secret.txt").write_text("hidden test")
    read_end, write_end = os.pipe()
    code = ("import os, sys; fd = int(sys.argv[1]); import autograder.isolation.wire\n"
            "try:\n    open(sys.argv[2]).read(); seen = 'SEEN'\nexcept OSError as e:\n    seen = type(e).__name__\n"
            "os.write(fd, f'{os.getuid()} {seen} {os.listdir(\".\")}'.encode())")
    with sandboxed(scratch, root):
        cmd = sandbox_command([sys.executable, "-c", code, str(write_end), str(root / "source" / "secret.txt")])
        proc = subprocess.run(cmd, pass_fds=(write_end,), capture_output=True, text=True, timeout=60)
    os.close(write_end)
    answer = os.read(read_end, 1000).decode()
    os.close(read_end)
    assert proc.returncode == 0, proc.stderr
    assert answer == "65534 FileNotFoundError []", answer
