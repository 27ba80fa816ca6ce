"""What every course notebook's first cell calls: :func:`start`.

A notebook's setup cell is three lines::

    import numpy as np
    from course_lib.lesson import start
    start("chain-rule")

so a reader meets the course's prose, not plumbing, when the notebook opens. The helpers the notebooks'
test cells call (``expect_close`` among them) are in :mod:`course_lib.checks`.
"""

from __future__ import annotations

import warnings

from course_lib.gradcheck import set_context

__all__ = ["start"]


def start(context: str = "general") -> None:
    """Prepare a notebook's kernel: quiet the warnings a student should not have to read, set the checker's words.

    ``context`` names what the notebook has taught so far (``"chain-rule"``, ``"sigmoid-chain"``,
    ``"many-paths"``, ``"all-parameters"`` or ``"general"``): the gradient checker's advice uses only
    words from it (see :func:`course_lib.gradcheck.set_context`). Running it twice is harmless.
    """
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)
    set_context(context)
