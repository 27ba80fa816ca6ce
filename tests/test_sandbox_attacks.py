"""Second-round sandbox attacks (issue 13 items 3 and 4, issue 15): the view is an allow-list, resources are
per submission, and the sandbox runs without root.

Each attack runs student code in a real sandboxed kernel (``run_sandboxed`` from tests/test_sandbox.py:
nbclient with :class:`autograder.isolation.capped_execute.CappedExecute` and
:func:`~autograder.isolation.sandbox.sandboxed`'s config). Figures (memory reached, bytes written, another
submission's time) are printed, never timed asserts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from test_sandbox import first_closed_ancestor, needs_sandbox, run_sandboxed

from autograder.coursedir.course import REPO_ROOT
from autograder.isolation.cgroups import SubmissionCgroups
from autograder.isolation.sandbox import Limits, sandbox_available
from autograder.isolation.sandbox_kernel import SandboxError

MIB = 2**20
MARK = "ATTACK "


def _result(nb, cell: int = 0) -> dict:
    text = "".join(o.get("text", "") for o in nb.cells[cell].outputs)
    line = next((ln for ln in text.splitlines() if ln.startswith(MARK)), None)
    assert line, nb.cells[cell].outputs
    return json.loads(line[len(MARK):])


# ---------------------------------------------------------------------------------------------------------
# the view: nothing of the host but what the kernel needs


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Files a student must not read, world-readable, where the old deny-list did not look."""
    tag = uuid.uuid4().hex[:8]
    other = Path("/opt") / f"bpc-collect-{tag}" / "submitted" / "other-student" / "01-double"
    clone = Path("/tmp") / f"bpc-clone-{tag}" / "backprop-course"
    usr_src = Path("/usr/local/src") / f"bpc-clone-{tag}"
    for folder in (other, clone / "notebooks" / "01-double", clone / "course_lib", usr_src / "notebooks"):
        folder.mkdir(parents=True, exist_ok=True)
    (other / "double.ipynb").write_text('{"their": "answer OTHER-STUDENT-WORK"}')
    (clone / "notebooks" / "01-double" / "double.ipynb").write_text("### BEGIN HIDDEN TESTS SOLUTION-LEAK")
    (usr_src / "notebooks" / "x.ipynb").write_text("### BEGIN HIDDEN TESTS SOLUTION-LEAK")
    for top in (other.parents[2], clone.parent, usr_src):
        for root, dirs, files in os.walk(top):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        os.chmod(top, 0o755)
    yield {"other": other / "double.ipynb", "clone": clone / "notebooks" / "01-double" / "double.ipynb",
           "usr_src": usr_src / "notebooks" / "x.ipynb", "clone_root": clone}
    for top in (other.parents[2], clone.parent, usr_src):
        shutil.rmtree(top, ignore_errors=True)


VIEW_PROBE = '''
import json, os
def _try(f):
    try:
        return "ok: " + repr(f())[:300]
    except BaseException as e:
        return f"{type(e).__name__}: {e}"[:300]
r = {k: _try(lambda p=p: open(p).read()) for k, p in PATHS.items()}
r["root"] = sorted(os.listdir("/"))
r["repo"] = _try(lambda: sorted(os.listdir(REPO)))
r["clone_dir"] = _try(lambda: os.listdir(CLONE))
r["passwd"] = open("/etc/passwd").read()
r["etc"] = sorted(os.listdir("/etc"))
r["procs"] = sorted({open(f"/proc/{p}/cmdline").read().replace("\\0", " ")[:80]
                     for p in os.listdir("/proc") if p.isdigit()})
r["env"] = sorted(os.environ)
r["course_lib"] = _try(lambda: __import__("course_lib").__name__)
r["home_fs"] = [ln.split()[1:3] for ln in open("/proc/self/mounts")
                if ln.split()[1] in ("/tmp", os.getcwd(), "/dev/shm")]
print("ATTACK " + json.dumps(r))
'''


@pytest.fixture(scope="module")
def view(planted, tmp_path_factory):
    paths = {k: str(v) for k, v in planted.items() if k != "clone_root"}
    paths["shadow"] = "/etc/shadow"
    header = f"PATHS = {paths!r}\nREPO = {str(REPO_ROOT)!r}\nCLONE = {str(planted['clone_root'])!r}\n"
    nb, error, _ = run_sandboxed(tmp_path_factory.mktemp("view"), [header + VIEW_PROBE])
    assert error is None, error
    return _result(nb)


@needs_sandbox
def test_another_students_notebook_elsewhere_on_disk_is_not_in_the_view(view):
    # issue 13 item 3: read from the folder collect was run on (here under /opt); the old view showed it
    assert view["other"].startswith("FileNotFoundError"), view["other"]
    assert "OTHER-STUDENT-WORK" not in json.dumps(view)


@needs_sandbox
def test_a_repository_clone_in_tmp_or_usr_local_src_is_not_in_the_view(view):
    for key in ("clone", "usr_src", "clone_dir"):
        assert view[key].startswith("FileNotFoundError"), (key, view[key])
    assert "SOLUTION-LEAK" not in json.dumps(view)


@needs_sandbox
def test_the_root_holds_only_the_allowed_folders(view):
    allowed = {"bin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp", "run", "sandbox",
               *(Path(p).parts[1] for p in (sys.prefix, sys.base_prefix, str(REPO_ROOT)))}
    assert set(view["root"]) <= allowed, sorted(set(view["root"]) - allowed)
    assert not {"opt", "home", "srv", "mnt", "var", "boot", "media"} & (set(view["root"]) - allowed)


@needs_sandbox
def test_course_lib_is_bound_without_the_repository_around_it(view):
    # the venv lives inside the repository in this checkout: only it and course_lib are there, no notebooks/
    assert view["course_lib"] == "ok: 'course_lib'", view["course_lib"]
    listed = eval(view["repo"][4:]) if view["repo"].startswith("ok") else []
    assert "notebooks" not in listed and "tests" not in listed and "course_lib" in listed, view["repo"]


@needs_sandbox
def test_no_host_accounts_processes_or_secrets_in_etc(view):
    assert view["shadow"].startswith("FileNotFoundError"), view["shadow"]
    users = [line.split(":")[0] for line in view["passwd"].splitlines()]
    assert users == ["root", "sandbox"], users  # a synthetic passwd: no student account names
    assert not {"shadow", "gshadow", "sudoers", "ssh", "postgresql"} & set(view["etc"]), view["etc"]
    assert all("pytest" not in p and "jupyter" not in p for p in view["procs"]), view["procs"]  # own pid ns
    assert not [k for k in view["env"] if k.startswith(("BPC_", "BACKPROP_", "JUPYTER", "PG"))], view["env"]


@needs_sandbox
def test_working_folder_tmp_and_shm_are_size_limited_tmpfs(view):
    mounts = {point: fs for point, fs in view["home_fs"]}
    assert set(mounts.values()) == {"tmpfs"} and len(mounts) == 3, view["home_fs"]


# ---------------------------------------------------------------------------------------------------------
# resources per submission


FORK_MEMORY = '''
import os, select, time, json
r, w = os.pipe()
kids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            blocks = [b"\\x01" * (100 * 2**20) for _ in range(CHUNKS)]  # touched, not just reserved
            os.write(w, b"k")
            time.sleep(8)
        finally:
            os._exit(0)
    kids.append(pid)
got, end = b"", time.time() + 90
while len(got) < 3 and time.time() < end:
    alive = [p for p in kids if os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read()]
    if select.select([r], [], [], 0.5)[0]:
        got += os.read(r, 10)
    elif len(got) >= len(alive):
        break
rss = 0
for p in kids:
    try:
        rss += int(open(f"/proc/{p}/status").read().split("VmRSS:")[1].split()[0]) * 1024
    except (OSError, IndexError):
        pass
statuses = [os.waitpid(p, 0)[1] for p in kids]
print("ATTACK " + json.dumps({"ready": len(got), "rss": rss, "statuses": statuses}))
'''


@needs_sandbox
def test_forked_children_share_one_memory_budget(tmp_path, capsys):
    # issue 13 item 4: three forked children of 2 GiB each reached 7.6 GiB (RLIMIT_AS is per process); here
    # three children of 400 MiB each against a 512 MiB submission budget (the default is 2 GiB)
    limit = 512 * MIB
    stats: dict = {}
    nb, error, _ = run_sandboxed(tmp_path, [f"CHUNKS = 4\n{FORK_MEMORY}", "print('parent alive')"],
                                 Limits(submission_memory_bytes=limit), timeout=120, stats=stats)
    if "memory (" not in stats["cgroups"]:
        pytest.skip(f"no memory cgroup here: {stats['cgroups']}")
    assert error is None, error
    found = _result(nb)
    killed = [s for s in found["statuses"] if os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9]
    with capsys.disabled():
        print(f"\nforked children: {found['ready']}/3 reached 400 MiB, RSS of the children at the end "
              f"{found['rss'] / MIB:.0f} MiB, submission peak {stats.get('peak_memory_bytes', 0) / MIB:.0f} MiB "
              f"(limit {limit / MIB:.0f} MiB), OOM kills {stats.get('oom_kills')}, children killed {len(killed)}")
    assert found["ready"] < 3 and killed, found  # 1.2 GiB never fits in 512 MiB: the OOM killer stepped in
    assert stats["peak_memory_bytes"] <= limit, stats
    assert found["rss"] <= limit, found


DISK_FILL = '''
import os, json
out = {}
for where in (os.getcwd(), os.environ["HOME"], "/tmp", "/dev/shm"):
    written, err = 0, None
    for i in range(40):
        try:
            with open(os.path.join(where, f"fill{i}.bin"), "wb") as f:
                for _ in range(30):
                    f.write(b"x" * 2**20)
                    written += 2**20
        except OSError as e:
            err = e.errno
            break
    for i in range(40):
        try:
            os.remove(os.path.join(where, f"fill{i}.bin"))
        except OSError:
            pass
    out[where] = [written, err]
print("ATTACK " + json.dumps(out))
'''


@needs_sandbox
def test_big_files_in_home_and_the_working_folder_stop_at_the_tmpfs_size(tmp_path, capsys):
    # issue 13 item 4: 1.2 GiB were written to the host disk (only a 64 MiB per-file limit); each file here
    # stays under RLIMIT_FSIZE, the total under the tmpfs size
    limits = Limits(work_bytes=64 * MIB, tmp_bytes=48 * MIB)
    before = shutil.disk_usage(tmp_path).used
    nb, error, _ = run_sandboxed(tmp_path, [DISK_FILL], limits, timeout=120)
    assert error is None, error
    found = _result(nb)
    with capsys.disabled():
        print("\nbytes written before ENOSPC: " + ", ".join(
            f"{where} {w / MIB:.0f} MiB" for where, (w, _) in found.items()))
    cwd = next(k for k in found if k not in ("/tmp", "/dev/shm", "/tmp/home"))
    assert found[cwd][1] == 28 and found[cwd][0] <= 64 * MIB, found  # ENOSPC at the working folder's size
    for where in ("/tmp/home", "/tmp", "/dev/shm"):
        assert found[where][1] == 28 and found[where][0] <= 48 * MIB, (where, found)
    assert not list(tmp_path.rglob("fill*.bin"))  # nothing reached the host's folders
    assert shutil.disk_usage(tmp_path).used - before < 64 * MIB


SPIN = '''
import os, time
for i in range(100):
    if os.fork() == 0:
        end = time.time() + SECONDS
        while time.time() < end:
            pass
        os._exit(0)
time.sleep(SECONDS)
print("spun")
'''
WORK = ("import time\nt = time.perf_counter()\ns = 0\nfor i in range(5_000_000):\n    s += i\n"
        "print('ATTACK {\"seconds\": %.3f}' % (time.perf_counter() - t))")

SPINNER_RUNNER = '''
import json, sys
from pathlib import Path
sys.path.insert(0, TESTS)
from test_sandbox import run_sandboxed
from autograder.isolation.limits import Limits
stats = {}
nb, error, seconds = run_sandboxed(Path(TMP), [SPIN], Limits(**LIMITS), timeout=300, stats=stats)
print("RESULT " + json.dumps({"error": repr(error), "stats": stats, "seconds": seconds}))
'''


@needs_sandbox
def test_many_spinning_processes_are_held_to_their_cpu_share(tmp_path, capsys):
    # issue 13 item 4: 100 spinners made another student's grading take 194 s instead of 6.5 s. Submission A
    # spins 100 processes; submission B's plain loop is timed alone and beside it. A's quota is half a core
    # and its weight the highest: on a machine the rest of the suite keeps busy, A's share (its weight) would
    # otherwise stay under a one-core quota and the quota would never act (CI: nr_throttled 0 with the defaults).
    alone = [run_sandboxed(tmp_path / "b0", [WORK])[0] for _ in range(1)][0]
    t_alone = _result(alone)["seconds"]
    code = (f"TESTS = {str(Path(__file__).parent)!r}\nTMP = {str(tmp_path / 'a')!r}\n"
            f"SPIN = {('SECONDS = 10' + SPIN)!r}\nLIMITS = {{'cpu_percent': 50, 'cpu_weight': 10_000}}\n"
            + SPINNER_RUNNER)  # B's whole run takes a few seconds
    spinner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)})
    try:
        import psutil

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until A's spinners run
            n = sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == 65534)
            if n >= 100:
                break
            time.sleep(0.5)
        busy, _, _ = run_sandboxed(tmp_path / "b1", [WORK])
        t_busy = _result(busy)["seconds"]
        out, _ = spinner.communicate(timeout=300)
    finally:
        if spinner.poll() is None:
            spinner.kill()
    result = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    with capsys.disabled():
        print(f"\nsubmission B's loop: {t_alone:.2f} s alone, {t_busy:.2f} s beside 100 spinners of submission A "
              f"(A's cgroup: {result['stats']})")
    if "cpu (" not in result["stats"].get("cgroups", ""):
        pytest.skip(f"no cpu cgroup here: {result['stats'].get('cgroups')}")
    assert result["stats"]["cpu_nr_throttled"] > 0, result  # A was held to its quota


# ---------------------------------------------------------------------------------------------------------
# cgroups and limits: configuration


def test_user_limits_parse_sizes_and_refuse_typos():
    env = {"BPC_SANDBOX_LIMITS": "submission_memory=4G, cpu_percent=200,work=512M,processes=64"}
    limits = Limits.from_user_env(env)
    assert limits.submission_memory_bytes == 4 * 2**30 and limits.cpu_percent == 200
    assert limits.work_bytes == 512 * MIB and limits.processes == 64
    assert Limits.from_json('{"processes": 9}', env).processes == 9  # explicit JSON wins
    assert Limits.from_json("", env).work_bytes == 512 * MIB
    with pytest.raises(SandboxError, match="unknown limits in BPC_SANDBOX_LIMITS: submision_memory "):
        Limits.from_user_env({"BPC_SANDBOX_LIMITS": "submision_memory=4G"})
    with pytest.raises(SandboxError, match="is not a number"):
        Limits.from_user_env({"BPC_SANDBOX_LIMITS": "cpu_percent=lots"})
    with pytest.raises(SandboxError, match="not key=value"):
        Limits.from_user_env({"BPC_SANDBOX_LIMITS": "cpu_percent"})


def test_sandbox_available_says_what_to_do_without_root_or_user_namespaces(monkeypatch):
    import autograder.isolation.sandbox as sandbox

    class Failed:
        returncode = 1
        stdout = ""
        stderr = "bwrap: No permissions to creating new namespace, likely because the kernel does not allow it"

    sandbox.sandbox_available.cache_clear()
    try:
        monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
        monkeypatch.setattr(sandbox.shutil, "which", lambda name: f"/usr/bin/{name}")
        monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: Failed())
        ok, why = sandbox_available()
        assert not ok
        assert "not root" in why and "unprivileged user namespace" in why and "No permissions" in why, why
        assert "sudo" in why and "--no-sandbox" in why, why
        monkeypatch.setenv("BPC_SANDBOX_LIMITS", "memory=lots")
        ok, why = sandbox_available()
        assert not ok and "BPC_SANDBOX_LIMITS" in why, why
    finally:
        monkeypatch.undo()
        sandbox.sandbox_available.cache_clear()


@needs_sandbox
def test_submission_cgroups_write_both_memory_and_cpu_limits_and_go_away():
    limits = Limits(submission_memory_bytes=300 * MIB, cpu_percent=50, cpu_weight=200, processes=77)
    groups = SubmissionCgroups.create(limits)
    try:
        if not groups.paths:
            pytest.skip(groups.describe())
        for controller, cg in groups.paths.items():
            v2 = groups.dialects[controller] == "v2"
            if controller == "memory":
                text = (cg / ("memory.max" if v2 else "memory.limit_in_bytes")).read_text().strip()
                assert int(text) == 300 * MIB, text
            elif controller == "cpu":
                if v2:
                    assert (cg / "cpu.max").read_text().split() == ["50000", "100000"]
                    assert (cg / "cpu.weight").read_text().strip() == "200"
                else:
                    assert (cg / "cpu.cfs_quota_us").read_text().strip() == "50000"
                    assert (cg / "cpu.shares").read_text().strip() == "2048"
            elif controller == "pids":
                assert (cg / "pids.max").read_text().strip() == "77"
        sleeper = subprocess.Popen(["sleep", "60"])
        for cg in groups.folders:
            (cg / "cgroup.procs").write_text(str(sleeper.pid))
    finally:
        left = groups.close()
    assert not left and not any(cg.exists() for cg in groups.folders)
    assert sleeper.wait(timeout=10) == -9  # what the submission left running is killed


# ---------------------------------------------------------------------------------------------------------
# grading without root (issue 15): rootless bwrap in an unprivileged user namespace


ROOTLESS_RUNNER = '''
import json, os, subprocess, sys
from pathlib import Path
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config
from autograder.isolation.sandbox import CappedExecute, sandbox_available, sandbox_command, sandbox_summary, sandboxed

out = {"uid": os.getuid(), "available": sandbox_available()}
out["summary"] = sandbox_summary()
scratch = Path(TOP) / "course" / ".grading" / "work" / "s__a"
folder = scratch / "autograded" / "s" / "a"
folder.mkdir(parents=True)
(folder / "data.txt").write_text("given with the submission")
cell = (
    "import os, json\\n"
    "def _try(f):\\n    try:\\n        return 'ok: ' + repr(f())[:200]\\n    except BaseException as e:\\n"
    "        return type(e).__name__\\n"
    f"print('ATTACK ' + json.dumps({{'uid': os.getuid(), 'map': open('/proc/self/uid_map').read().split(),"
    f" 'secret': _try(lambda: open({SECRET!r}).read()), 'data': _try(lambda: open('data.txt').read()),"
    f" 'write': _try(lambda: open('mine.txt', 'w').write('x'))}}))"
)
nb = new_notebook(cells=[new_code_cell(cell)])
with sandboxed(scratch, Path(TOP) / "course") as extra:
    cfg = Config()
    for key, value in extra.items():
        section, name = key.split(".", 1)
        setattr(cfg[section], name, value)
    cfg.Execute.timeout = 60
    CappedExecute(config=cfg).preprocess(nb, {"metadata": {"path": str(folder)}})
    host = subprocess.run(sandbox_command([sys.executable, "-c", "import os; print(os.getuid(), os.listdir('.'))"]),
                          capture_output=True, text=True, timeout=60)
out["cgroups"] = extra.cgroups
out["kernel"] = "".join(o.get("text", "") for o in nb.cells[0].outputs)
out["exec"] = [host.returncode, host.stdout.strip(), host.stderr[-300:]]
out["left_behind"] = sorted(p.name for p in folder.iterdir())
print("RESULT " + json.dumps(out))
'''


@needs_sandbox
@pytest.mark.skipif(os.geteuid() != 0, reason="switches to uid 65534 with setpriv: the test runs as root")
def test_grading_runs_rootless_as_an_unprivileged_user(planted, capsys):
    # An instructor's own account: uid 65534 here, no capabilities, bwrap makes a user namespace itself.
    # What this account needs must be readable by it: a world-readable temp folder for the course; the
    # venv under /work is (0755); the interpreter under /root is not (/root is 0700), so for this test only,
    # in a private mount namespace, an empty 0755 tmpfs over /root holds a bind of the interpreter's folder.
    base = Path(sys.base_prefix).resolve()
    closed = first_closed_ancestor(base)
    for needed in (Path(sys.prefix).resolve(), REPO_ROOT / "autograder", REPO_ROOT / "course_lib"):
        assert first_closed_ancestor(needed) is None, f"{needed} is not readable by other users"
    top = Path(__import__("tempfile").mkdtemp(prefix="bpc-rootless-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        stage = top / "stage"
        stage.mkdir()
        secret = planted["other"]
        code = f"TOP = {str(top / 'u')!r}\nSECRET = {str(secret)!r}\n" + ROOTLESS_RUNNER
        (top / "u").mkdir()
        os.chown(top / "u", 65534, 65534)
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(top / "u"), "LANG": "C.UTF-8",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(top / "u" / "mpl"),
               "JUPYTER_RUNTIME_DIR": str(top / "u" / "rt"), "PYTHONDONTWRITEBYTECODE": "1"}
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                sys.executable, "-c", code]
        if closed is None:
            cmd = drop
        else:
            script = (f'mount --rbind "{base}" "{stage}" && mount -t tmpfs -o mode=0755,size=1m tmpfs "{closed}" '
                      f'&& mkdir -p "{base}" && mount --move "{stage}" "{base}" && exec "$@"')
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *drop]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=str(top))
        line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, (run.returncode, run.stdout[-2000:], run.stderr[-3000:])
        found = json.loads(line[len("RESULT "):])
    finally:
        shutil.rmtree(top, ignore_errors=True)
    with capsys.disabled():
        print(f"\nrootless: {found['summary']}")
    assert found["uid"] == 65534 and found["available"] == [True, ""], found
    kernel = json.loads(next(ln for ln in found["kernel"].splitlines() if ln.startswith(MARK))[len(MARK):])
    # its own user namespace, one uid mapped (root's namespace maps "0 0 4294967295")
    assert kernel["uid"] == 65534 and kernel["map"][0] == "65534" and kernel["map"][2] == "1", kernel
    assert kernel["secret"] == "FileNotFoundError", kernel
    assert kernel["data"] == "ok: 'given with the submission'" and kernel["write"].startswith("ok"), kernel
    assert "mine.txt" not in found["left_behind"], found["left_behind"]
    assert found["exec"][0] == 0 and found["exec"][1] == "65534 []", found["exec"]
    assert "not enforced per submission" in found["cgroups"] or "memory (" in found["cgroups"], found["cgroups"]
