"""autograder.fsutil: a file is replaced whole or not at all, by a temporary file no other writer shares."""

import os
import stat
import threading
from pathlib import Path

import pytest

from autograder.fsutil import atomic_path, atomic_write_bytes, atomic_write_text


def test_writes_the_content_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "grades.csv"
    assert atomic_write_text(path, "a,b\n1,2\n") == path
    assert path.read_text() == "a,b\n1,2\n"
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["grades.csv"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary_file(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full, say")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_two_writers_never_share_a_temporary_file(tmp_path):
    """Each writer gets its own temporary name (the old `.json.tmp` was one name for every run)."""
    path = tmp_path / "students.json"
    with atomic_path(path) as first, atomic_path(path) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("first")
        second.write_text("second")
    assert path.read_text() == "first"  # the outer block ends last: its file replaced the other's whole


def test_readers_see_a_whole_file_while_threads_write_it(tmp_path):
    path = tmp_path / "state.json"
    versions = [(str(i) * 20000).encode() for i in range(8)]
    atomic_write_bytes(path, versions[0])
    seen, stop = set(), threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=lambda v=v: [atomic_write_bytes(path, v) for _ in range(20)]) for v in versions]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    reader.join()
    assert seen <= set(versions), "a reader saw a partly written file"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_permissions_follow_the_umask_unless_a_mode_is_given(tmp_path):
    old = os.umask(0o027)
    try:
        plain = atomic_write_text(tmp_path / "plain.txt", "x")
    finally:
        os.umask(old)
    private = atomic_write_text(tmp_path / "nbgrader_config.py", "secret", mode=0o600)
    assert stat.S_IMODE(plain.stat().st_mode) == 0o640
    assert stat.S_IMODE(Path(private).stat().st_mode) == 0o600
