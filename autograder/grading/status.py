"""A submission's status as fields: graded normally or needing the instructor, and why.

The grader decides a status from data (the worker's problems and notes, a gradebook that refused a row, a
cell still to grade by hand) and code reads it by field: :attr:`Status.ok`, :attr:`Status.reasons`. It is
saved as fields in ``.grading/results/`` and turned into one line of text only where a person reads it:
the ``status`` column of ``grades.csv``, the terminal and the report (:meth:`Status.text`, also ``str()``).
That line is what it always was: ``ok`` or ``ok (notes)`` for a submission graded normally, else the
reasons it needs attention separated by ``; ``, notes in parentheses after them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["NOT_RECORDED", "Status"]

NOT_RECORDED = "could not be recorded in the gradebook"
_MANUAL = "needs a manual grade in Formgrader"


@dataclass
class Status:
    """What the instructor needs to know about one graded submission.

    ``reasons`` say why it needs attention (empty: graded normally), ``notes`` are remarks on a normal
    grading (unanswered exercises), ``not_recorded`` why the gradebook refused it (the next ``grade`` run
    records it again), ``manual_needed`` the cells still to grade by hand in Formgrader
    (``notebook:cell``, from the gradebook).
    """

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_recorded: str = ""
    manual_needed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Graded normally: nothing for the instructor to do (notes may remain)."""
        return not (self.reasons or self.not_recorded or self.manual_needed)

    @property
    def state(self) -> str:
        """``"ok"`` or ``"attention"``."""
        return "ok" if self.ok else "attention"

    def add_reason(self, reason: str) -> None:
        """Put ``reason`` first among the reasons (once); an empty one changes nothing."""
        if reason and reason not in self.reasons:
            self.reasons.insert(0, reason)

    def all_reasons(self) -> list[str]:
        """Every reason it needs attention, the most urgent first, as one line each."""
        out = [f"{NOT_RECORDED} ({self.not_recorded}); run grade again to record it"] if self.not_recorded else []
        if self.manual_needed:
            out.append(f"{_MANUAL}: {', '.join(self.manual_needed)}")
        return out + self.reasons

    def text(self) -> str:
        """The one-line rendering (``grades.csv``'s status column, the terminal, the report)."""
        notes = f" ({'; '.join(self.notes)})" if self.notes else ""
        reasons = self.all_reasons()
        return ("; ".join(reasons) if reasons else "ok") + notes

    __str__ = text

    def to_json(self) -> dict[str, Any]:
        """The fields, plus ``state`` and the rendered ``text`` for a person reading the file."""
        return {"state": self.state, "reasons": list(self.reasons), "notes": list(self.notes),
                "not_recorded": self.not_recorded, "manual_needed": list(self.manual_needed), "text": self.text()}

    @staticmethod
    def from_json(data: Any) -> Status:
        """A status from :meth:`to_json`'s fields, or from the one line an older grader saved."""
        if isinstance(data, Status):
            return data
        if isinstance(data, dict):
            return Status([str(r) for r in data.get("reasons") or []], [str(n) for n in data.get("notes") or []],
                          str(data.get("not_recorded") or ""), [str(m) for m in data.get("manual_needed") or []])
        return _from_old_text(str(data or "ok"))


def _from_old_text(text: str) -> Status:
    """Read the single line older graders saved (results saved before the status had fields)."""
    status = Status()
    if text.startswith(NOT_RECORDED):
        why, _, text = text.partition(" || ")
        status.not_recorded = why[len(NOT_RECORDED):].split("; run grade again")[0].strip(" ()")
        text = text or "ok"
    if text == "ok":
        return status
    if text.startswith("ok (") and text.endswith(")"):
        status.notes = [text[4:-1]]
    else:
        status.reasons = [text]
    return status
