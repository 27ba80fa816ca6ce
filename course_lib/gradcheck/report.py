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
    ``None`` when only a random direction was checked); ``analytic`` and ``numeric`` are the values there.
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
    ``str(report)`` is a table followed by the numbered diagnoses; :meth:`assert_ok` raises
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

    def _header(self) -> str:
        failed = len(self.failed_parameters)
        if self.passed:
            verdict = "Gradient check passed"
            if any(row.status == INCONCLUSIVE for row in self.rows):
                verdict += " (some entries inconclusive, see below)"
        elif failed:
            verdict = f"Gradient check FAILED: {failed} of {len(self.rows)} parameters wrong"
        else:
            verdict = "Gradient check FAILED (strict): some entries could not be confirmed"
        method = self.method + (f" ({self.method_note})" if self.method_note else "")
        calls = f", {self.gradient_calls} calls of your gradient function" if self.gradient_calls else ""
        points = f"{self.points} test point{'s' if self.points != 1 else ''}"
        mode = {
            "full": "",
            "sampled": "; sampled entries and one random direction per parameter",
            "directions": "; one random direction per parameter",
        }.get(self.mode, "")
        return f"{verdict}.\nReference: {method}; {points}{mode}; {self.evaluations} evaluations of f{calls}."

    def table(self) -> str:
        """The per-parameter table alone."""
        head = (
            "parameter",
            "shape",
            "status",
            "max abs err",
            "max rel err",
            "worst entry",
            "yours (analytic)",
            "expected (numeric)",
        )
        lines = [head]
        for row in self.rows:
            shape = (
                "()"
                if not row.shape
                else "(" + ", ".join(str(s) for s in row.shape) + (",)" if len(row.shape) == 1 else ")")
            )
            worst = row.worst_label + (f" @{row.point + 1}" if row.point else "")
            lines.append(
                (
                    row.name,
                    shape,
                    row.status,
                    _e(row.max_abs_error),
                    _e(row.max_rel_error),
                    worst,
                    format_value(row.analytic),
                    format_value(row.numeric),
                )
            )
        widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
        )

    def __str__(self) -> str:
        parts = [self._header(), "", self.table()]
        if any(row.point for row in self.rows):
            parts.append("(@k: the worst entry is at test point k; point 1 is params as given)")
        if self.diagnoses:
            parts += ["", "Diagnoses:"]
            parts += [f"{i}. {sentence}" for i, sentence in enumerate(self.diagnoses, 1)]
        if self.notes:
            parts += ["", "Notes:"] + [f"- {note}" for note in self.notes]
        return "\n".join(parts)

    def assert_ok(self) -> None:
        """Raise ``AssertionError(str(self))`` unless the check passed."""
        if not self.passed:
            raise AssertionError(str(self))
