"""The results table: one row per figure, with its baseline, the ratio and the target beside it.

Targets are shown, never enforced: the verdict column only saves the reader a comparison.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Target:
    """A goal for a row: on its value or on its ratio to the baseline, as a floor or a ceiling."""

    op: Literal[">=", "<="]
    threshold: float
    on: Literal["value", "ratio"] = "value"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        """None when the figure the target is about was not measured."""
        figure = value if self.on == "value" else ratio
        if figure is None:
            return None
        return figure >= self.threshold if self.op == ">=" else figure <= self.threshold

    def describe(self, unit: str) -> str:
        if self.on == "ratio":
            return f"{self.op} {self.threshold:g} x baseline"
        return f"{self.op} {number(self.threshold)} {unit}".rstrip()


@dataclass(slots=True)
class Row:
    """One measured figure. `value` is None when the measurement could not run; `note` then says why."""

    section: str
    measure: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    targets: tuple[Target, ...] = ()
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def number(x: float | None) -> str:
    """Thousands separators for rates, a few significant digits for small figures."""
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table(rows: list[Row], title: str) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    t.add_column("bench")
    t.add_column("measure", max_width=52)
    t.add_column("caregate", justify="right")
    t.add_column("unit")
    t.add_column("baseline", justify="right")
    t.add_column("ratio", justify="right")
    t.add_column("target", max_width=26)
    t.add_column("met")
    t.add_column("notes", overflow="fold")
    previous = ""
    for r in rows:
        if previous and r.section != previous:
            t.add_section()
        previous = r.section
        baseline = f"{number(r.baseline)} ({r.baseline_name})" if r.baseline is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        verdicts = [target.met(r.value, r.ratio) for target in r.targets]
        met = "-" if not verdicts or None in verdicts else ("yes" if all(verdicts) else "NO")
        t.add_row(r.section, r.measure, number(r.value), r.unit, baseline, ratio,
                  " and ".join(target.describe(r.unit) for target in r.targets), met, r.note)
    return t


def render_text(rows: list[Row], title: str, width: int = 200) -> str:
    """The table as plain text (no colour codes), for `bench/out/latest.txt`."""
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(table(rows, title))
    return console.export_text()
