"""A late-penalty policy beyond nbgrader's two ("none", "zero"): a percentage of the score per day late.

nbgrader computes late penalties with a plugin (``c.AssignLatePenalties.plugin_class``); its own
``LateSubmissionPlugin`` offers ``penalty_method = "none"`` or ``"zero"``. In ``nbgrader_config.py``::

    c.AssignLatePenalties.plugin_class = "autograder.grading.late.PercentPerDay"
    c.PercentPerDay.percent_per_day = 10      # each started day late costs 10% of the score
    c.PercentPerDay.grace_minutes = 15        # up to 15 minutes late costs nothing

``backprop-course`` (:mod:`autograder.grading.record`) and nbgrader's own ``autograde`` both use it.
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

__all__ = ["PercentPerDay"]


class PercentPerDay(LateSubmissionPlugin):
    """``percent_per_day`` of the score for each started day late, after ``grace_minutes``; at most the score."""

    percent_per_day = Float(10.0, help="percent of the score taken per started day late").tag(config=True)
    grace_minutes = Float(0.0, help="minutes late that cost nothing").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        """The penalty for ``score`` handed in ``total_seconds_late`` seconds after the (extended) due date."""
        if total_seconds_late <= self.grace_minutes * 60:
            return 0.0
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.percent_per_day * days / 100.0)
