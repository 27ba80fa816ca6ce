"""What ``collect`` did with each file: the summary it prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.untrusted import for_terminal

__all__ = ["CollectReport", "show"]


@dataclass
class CollectReport:
    """What ``collect`` did with each file (every student-derived string already safe to print)."""

    placed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A human summary, one line per file that needs attention."""
        lines = [
            f"filed {len(self.placed)} notebook(s), {len(self.unchanged)} unchanged, "
            f"{len(self.archived)} earlier submission(s) archived, {len(self.skipped)} file(s) not placed"
        ]
        lines += [f"  filed: {p}" for p in self.placed]
        lines += [f"  archived: {a}" for a in self.archived]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  NOT PLACED: {s}" for s in self.skipped]
        return "\n".join(lines)



def show(text: object, limit: int = 90) -> str:
    """Student text for the terminal, long names shortened."""
    s = for_terminal(text)
    return s if len(s) <= limit else s[: limit - 12] + "…" + s[-11:]
