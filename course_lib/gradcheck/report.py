"""The result of a gradient check: one row per parameter, a verdict and sentences that explain it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from course_lib.gradcheck.inputs import format_value

__all__ = ["FAIL", "INCONCLUSIVE", "OK", "GradientReport", "ParamRow"]

OK = "ok"
FAIL = "FAIL"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class ParamRow:
    """One parameter's outcome, at its worst entry over every test point.

    ``worst_index`` is the multi-index of the entry farthest outside its tolerance (``()`` for a number,
    ``None`` when only a random direction was checked) at test point ``point``; ``analytic``, ``numeric``
    and ``tolerance`` are the values there. ``max_abs_error`` and ``max_rel_error`` are maxima over every
    checked entry and point (the table shows the errors at the worst entry instead).
    """

    name: str
    shape: tuple[int, ...]
    status: str  # "ok", "FAIL" or "inconclusive"
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    tolerance: float
    point: int  # 0 = params as given; 1, 2, ... = further test points
    checked: int  # entries compared with the reference
    failed: int
    inconclusive: int

    @property
    def worst_label(self) -> str:
        """``W1[2, 0]``, ``x`` or ``W1 (direction)``."""
        if self.worst_index is None:
            return f"{self.name} (direction)"
        if not self.worst_index:
            return self.name
        return f"{self.name}[{', '.join(str(i) for i in self.worst_index)}]"

    def as_dict(self) -> dict[str, object]:
        """The row as a plain dict."""
        return asdict(self)


def _e(x: float) -> str:
    return f"{x:.1e}"


@dataclass
class GradientReport:
    """What :func:`course_lib.gradcheck.check_gradients` found.

    ``passed`` is True when no row is ``FAIL`` (with ``strict=True`` also no row may be inconclusive).
    ``str(report)`` is the verdict, the numbered diagnoses (the likely mistake first, then the numbers),
    the table, and last how the reference was computed (:meth:`how_checked`); :meth:`assert_ok` raises
    ``AssertionError(str(report))`` when the check did not pass.
    """

    rows: list[ParamRow]
    diagnoses: list[str]
    method: str  # "complex step" or "central differences"
    method_note: str
    points: int
    evaluations: int  # calls of f, including the complex-safety probe and refinements
    gradient_calls: int  # calls of the student's gradient function (0 when grads were values)
    mode: str = "full"
    strict: bool = False
    notes: list[str] = field(default_factory=list)
    exercise: str = ""  # named in the verdict when the caller gave it

    @property
    def passed(self) -> bool:
        """No parameter failed (and, with ``strict``, none is inconclusive)."""
        if any(row.status == FAIL for row in self.rows):
            return False
        return not (self.strict and any(row.status == INCONCLUSIVE for row in self.rows))

    @property
    def failed_parameters(self) -> list[str]:
        """Names of the parameters whose status is FAIL."""
        return [row.name for row in self.rows if row.status == FAIL]

    def _verdict(self) -> str:
        failed = len(self.failed_parameters)
        if self.passed:
            verdict = "Gradient check passed"
            if any(row.status == INCONCLUSIVE for row in self.rows):
                verdict += " (some entries inconclusive, see below)"
        elif failed:
            what = f" for {self.exercise}" if self.exercise else ""
            verdict = f"Gradient check FAILED{what}: {failed} of {len(self.rows)} parameters wrong"
        else:
            verdict = "Gradient check FAILED (strict): some entries could not be confirmed"
        return verdict + "."

    def how_checked(self) -> str:
        """How the expected values were computed: about the reference, not about the student's code."""
        if self.method == "complex step":
            how = "the complex step"
        else:
            how = "central differences"
            prefix = "f is not complex-safe: it "
            if self.method_note.startswith(prefix):
                how += f" (f {self.method_note[len(prefix):]}: about the reference, not your code)"
        calls = f", {self.gradient_calls} of your gradient" if self.gradient_calls else ""
        points = f"{self.points} test point{'s' if self.points != 1 else ''}"
        mode = {
            "full": "",
            "sampled": "; sampled entries and one random direction per parameter",
            "directions": "; one random direction per parameter",
        }.get(self.mode, "")
        return (f"How this was checked: numerical derivatives by {how}; {points}{mode}; "
                f"{self.evaluations} calls of f{calls}.")

    def table(self) -> str:
        """The per-parameter table alone: every number of a row comes from its worst entry."""
        head = ("parameter", "shape", "status", "worst entry", "yours", "expected", "abs err", "rel err")
        lines = [head]
        for row in self.rows:
            shape = (
                "()"
                if not row.shape
                else "(" + ", ".join(str(s) for s in row.shape) + (",)" if len(row.shape) == 1 else ")")
            )
            worst = row.worst_label + (f" @{row.point + 1}" if row.point else "")
            err = abs(row.analytic - row.numeric)
            scale = max(abs(row.analytic), abs(row.numeric))
            rel = err / scale if err and scale else 0.0
            lines.append(
                (
                    row.name,
                    shape,
                    row.status,
                    worst,
                    format_value(row.analytic),
                    format_value(row.numeric),
                    _e(err),
                    _e(rel),
                )
            )
        widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
        )

    def __str__(self) -> str:
        parts = [self._verdict()]
        if self.diagnoses:
            parts += [f"{i}. {sentence}" for i, sentence in enumerate(self.diagnoses, 1)]
        parts += ["", self.table()]
        if any(row.point for row in self.rows):
            parts.append("(@k: the worst entry is at test point k; point 1 is the point the check was given)")
        parts += ["", self.how_checked()]
        if self.notes:
            parts += ["Notes on the check:"] + [f"- {note}" for note in self.notes]
        return "\n".join(parts)

    def assert_ok(self) -> None:
        """Raise ``AssertionError(str(self))`` unless the check passed."""
        if not self.passed:
            raise AssertionError(str(self))
