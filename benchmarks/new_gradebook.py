"""What a new gradebook costs: ``python -m benchmarks.new_gradebook [--repeat N]``.

nbgrader 0.9.6 writes its schema revision into every gradebook it creates, and learns it by running
``alembic heads`` in a subprocess (a fresh Python that imports nbgrader again). ``backprop-course`` reads the
same revision in process (:func:`autograder.coursedir.database.gradebook_schema_head`). This creates N SQLite
gradebooks each way in one process, nbgrader's way first, and prints the wall and CPU time of each (the
subprocess's CPU included) and their ratio. Every `release` into a new course folder, and every test that makes
one, creates a gradebook. Prints one table; no assertion.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _create(folder: Path, n: int, label: str) -> tuple[float, float]:
    import nbgrader.api

    from autograder.settings import COURSE_ID

    wall, cpu = time.perf_counter(), _cpu()
    for i in range(n):
        gb = nbgrader.api.Gradebook(f"sqlite:///{folder / f'{label}-{i}.db'}", COURSE_ID)
        gb.close()
        gb.engine.dispose()
    return (time.perf_counter() - wall) / n, (_cpu() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="gradebooks made each way [5]")
    args = parser.parse_args()
    from autograder.coursedir.database import ensure_bin_on_path, gradebook_schema_head, use_in_process_schema_head

    ensure_bin_on_path()  # nbgrader's way runs `alembic` by name
    import nbgrader.api

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if nbgrader.api.get_alembic_version() != gradebook_schema_head():
            raise SystemExit("the two ways give different schema revisions: nothing to compare")
        subprocess_wall, subprocess_cpu = _create(folder, args.repeat, "subprocess")
        use_in_process_schema_head()
        in_process_wall, in_process_cpu = _create(folder, args.repeat, "in-process")
    print(f"new SQLite gradebook, mean of {args.repeat}     wall s   CPU s (children included)")
    print(f"  nbgrader (alembic heads subprocess)  {subprocess_wall:6.2f}  {subprocess_cpu:6.2f}")
    print(f"  in process (alembic's API)           {in_process_wall:6.2f}  {in_process_cpu:6.2f}")
    print(f"  ratio                                {subprocess_wall / in_process_wall:6.1f}x "
          f"{subprocess_cpu / max(in_process_cpu, 1e-9):6.1f}x")


if __name__ == "__main__":
    main()
