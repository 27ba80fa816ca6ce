"""backprop-course's shared library.

Where things are:

* :mod:`course_lib.ops` — pure math: each elementary function beside its local derivative.
* :mod:`course_lib.graph` — the scalar computation graph and ``backward()`` (the chain rule).
* :mod:`course_lib.paths` — every path from a weight to the loss, their sum, and the cost of each method.
* :mod:`course_lib.trace` — the forward/backward table of a graph.
* :mod:`course_lib.gates` — gate patterns of the backward pass (add, multiply, max) and their widget.
* :mod:`course_lib.models` — the lecture notes' models, forward only.
* :mod:`course_lib.params` — the notes' parameter names (``w_131``) in the network's arrays; held-out test points.
* :mod:`course_lib.guard` — switches automatic/numerical gradients off while graded code runs.
* :mod:`course_lib.gradcheck` — the numerical gradient checker that grades every exercise.
* :mod:`course_lib.isolation` — test cells judge one exercise at a time (the others' answers swapped out).
* :mod:`course_lib.param_checks` — entry-wise checks of returned parameter dicts and vectors (notebook 04).
* :mod:`course_lib.chain_checks` — self-check helpers for the dict-weight sigmoid chain (notebook 02).
* :mod:`course_lib.notebook` — a notebook's setup cell (``start``) and the test helper ``expect_close``.
* :mod:`course_lib.drawing`, :mod:`course_lib.widgets` — figures with alt text, and the interactive widgets.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backprop-course")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
