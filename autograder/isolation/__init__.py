"""Keeping student code from the verdict: the bubblewrap sandbox and the one run judged outside it.

``sandbox``/``sandbox_kernel`` run student code with limits; ``one_run`` (nbgrader's preprocessor) and
``session`` run a submission's cells once in ``student_host`` (sandboxed) and judge every test cell in the
grader with ``verify``, talking over ``wire`` (plain data only, graphs of nodes included).
"""
