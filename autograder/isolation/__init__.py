"""Keeping student code from the verdict: the bubblewrap sandbox and the independent re-check.

``sandbox``/``sandbox_kernel`` run student code with limits; ``verify`` re-runs every test cell where student
code cannot reach it, talking to ``student_host`` over ``wire`` (plain data only).
"""
