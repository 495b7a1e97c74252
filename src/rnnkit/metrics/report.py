"""The one report format of every task: a model's scores beside its baselines on one data set."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.formatting import figure

__all__ = ["Report"]


@dataclass
class Report:
    """Scores of a model beside its baselines on one data set, printed by :meth:`format`.

    ``rows`` maps a metric to ``{column: value}`` for the columns ``"model"`` and the baselines;
    a missing entry prints as ``n/a``. ``goals`` maps a metric to its goal (``"< 0.001"``), and
    ``details`` holds extra lines (a confusion matrix, per-tag scores).
    """

    title: str
    rows: dict[str, dict[str, float]]
    goals: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        names = ["model"]
        for values in self.rows.values():
            names += [name for name in values if name not in names]
        return names

    def format(self) -> str:
        columns = self.columns
        width = max(len(name) for name in self.rows) + 2
        widths = [max(10, len(name) + 2) for name in columns]
        head = f"  {'':<{width}}" + "".join(f"{n:>{w}}" for n, w in zip(columns, widths))
        lines = [f"{self.title}:", head + ("   goal" if self.goals else "")]
        for metric, values in self.rows.items():
            cells = [figure(values[c]) if c in values else "n/a" for c in columns]
            line = f"  {metric:<{width}}" + "".join(f"{v:>{w}}" for v, w in zip(cells, widths))
            lines.append(line + (f"   {self.goals[metric]}" if metric in self.goals else ""))
        return "\n".join(lines + [f"  {line}" for line in self.details])
