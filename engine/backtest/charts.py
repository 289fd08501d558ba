"""The backtest's charts as PNG files, drawn with matplotlib: a money series over IST time.

matplotlib is imported inside :func:`write_chart` only: ``shikra backtest`` draws charts, the
daemon's processes never load it (memory). Each call builds its own ``matplotlib.figure.Figure``
on the Agg canvas (no pyplot, no state kept between calls) under matplotlib's default style (a
user's matplotlibrc does not change the picture), and the PNG is written without the "Software"
metadata, so the same chart gives the same bytes on one machine.

A chart is a step curve: the value holds from each instant until the next (realised equity moves
when a trade closes). The x axis is IST date and time, the y axis rupees with Indian digit grouping
(1,23,456.50); the title's second line is the period the series covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec

from engine.model.ist import IST, NS_PER_S
from engine.model.money import format_paise

WIDTH_PX: Final = 1000
HEIGHT_PX: Final = 420
DPI: Final = 100
SINGULAR_PAD_NS: Final = 30 * NS_PER_S  # x range around a series whose points share one instant


class Chart(msgspec.Struct, frozen=True, kw_only=True):
    """What one chart shows: ``values_paise[i]`` from ``times_ns[i]`` (epoch ns) on."""

    title: str
    y_label: str                # with its unit, e.g. "net P&L (₹)"
    times_ns: Sequence[int]
    values_paise: Sequence[int]
    colour: str                 # a matplotlib colour, e.g. "tab:blue"
    shade: bool = False         # fill between the curve and zero (a drawdown)

    def __post_init__(self) -> None:
        if len(self.times_ns) != len(self.values_paise):
            raise ValueError(f"chart '{self.title}': {len(self.times_ns)} times for {len(self.values_paise)} values")


def period_label(start_ns: int, end_ns: int) -> str:
    """``2026-11-20 09:45:00 – 09:45:04 IST``; both dates when the period spans days."""
    start = dt.datetime.fromtimestamp(start_ns // NS_PER_S, IST)
    end = dt.datetime.fromtimestamp(end_ns // NS_PER_S, IST)
    until = f"{end:%H:%M:%S}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M:%S}"
    return f"{start:%Y-%m-%d %H:%M:%S} – {until} IST"


def group_digits(number: str) -> str:
    """Indian digit grouping (lakh, crore) of a decimal number's text: ``-123456.50`` ->
    ``-1,23,456.50``, ``1234567`` -> ``12,34,567``."""
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    whole, dot, frac = digits.partition(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        whole = ",".join([*(head[max(i - 2, 0):i] for i in range(len(head) % 2 or 2, len(head) + 1, 2)), tail])
    return sign + whole + dot + frac


def rupees_text(paise: int) -> str:
    """Exact rupees for a chart's text: -199050 -> ``-₹1,990.50``."""
    text = group_digits(format_paise(paise))
    return f"-₹{text[1:]}" if text.startswith("-") else f"₹{text}"


def write_chart(path: str | Path, chart: Chart) -> None:
    """Draw ``chart`` into a PNG of WIDTH_PX x HEIGHT_PX at ``path``. An empty series gives the
    axes with "no trades" in the middle."""
    import matplotlib.dates as mdates
    import matplotlib.style
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

    class RupeeFormatter(Formatter):
        """Tick labels in rupees with the fewest decimals (0 to 2) that show every tick exactly."""

        decimals = 0

        def set_locs(self, locs: Sequence[float]) -> None:
            super().set_locs(locs)
            self.decimals = next((d for d in (0, 1) if all(abs(round(v, d) - v) < 1e-6 for v in locs)), 2)

        def __call__(self, x: float, pos: int | None = None) -> str:
            text = f"{x:.{self.decimals}f}"
            return group_digits("0" if float(text) == 0 else text)  # no "-0"

    with matplotlib.style.context("default"):
        fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        times = np.asarray(chart.times_ns, dtype="datetime64[ns]")  # UTC; shown in IST below
        rupees = np.asarray(chart.values_paise, dtype=np.float64) / 100.0
        if len(times):
            ax.step(times, rupees, where="post", color=chart.colour, linewidth=1.5)
            if chart.shade:
                ax.fill_between(times, rupees, 0.0, step="post", color=chart.colour, alpha=0.25, linewidth=0)
            first, last = int(chart.times_ns[0]), int(chart.times_ns[-1])
            pad = SINGULAR_PAD_NS if last == first else 0
            ax.set_xlim(np.datetime64(first - pad, "ns"), np.datetime64(last + pad, "ns"))
            locator = mdates.AutoDateLocator(tz=IST, minticks=4, maxticks=9)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
                locator, tz=IST, show_offset=False,  # the date is in the title
                formats=["%Y", "%b", "%d %b", "%H:%M", "%H:%M", "%H:%M:%S"],
                zero_formats=["", "%Y", "%b", "%d %b", "%H:%M", "%H:%M:%S"]))
            ax.yaxis.set_major_formatter(RupeeFormatter())
            period = period_label(first, last)
        else:
            ax.text(0.5, 0.5, "no trades", transform=ax.transAxes, ha="center", va="center", color="grey")
            ax.set_xticks([])
            ax.set_yticks([])
            period = "no fills"
        ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
        ax.grid(True, color="0.9")
        ax.set_axisbelow(True)
        ax.set_xlabel("time (IST)")
        ax.set_ylabel(chart.y_label)
        ax.set_title(f"{chart.title}\n{period}", fontsize=11)
        fig.savefig(Path(path), format="png", metadata={"Software": None})
