"""Server-side SVG charts for the reports page, drawn with matplotlib (already a Rasa
dependency) through its object API (no pyplot state, safe in worker threads).

Each chart is served as its own ``image/svg+xml`` and shown with an ``alt`` text
and its data table beside it. matplotlib writes its styling as ``style="…"``
attributes and a ``<style>`` element; :func:`presentational` turns them into SVG
presentation attributes so the images obey the console's Content Security Policy
(no inline styles). Colours are from the GOV.UK palette; every series also has a
text label, so no chart relies on colour alone (the table beside it never does).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence

from firstpoint.reports.model import OUTCOME_KEYS, WEEKDAYS, Breakdown, Report
from firstpoint.reports.value import ShiftValue

COLOURS = {
    "answered": "#00703c", "declined": "#28a197", "handed_off": "#1d70b8",
    "emergency": "#d4351c", "not_understood": "#f47738", "abandoned": "#505a5f",
    "open": "#b1b4b6",
}
LABELS = {"answered": "Answered", "declined": "Declined (signposted)",
          "handed_off": "Handed off", "emergency": "Emergency advice",
          "not_understood": "Not understood", "abandoned": "Abandoned", "open": "Open"}
TEXT = "#0b0c0c"
BLUE = "#1d70b8"
_LOCK = threading.Lock()
_STYLE_ATTR = re.compile(r'style="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.S)


def presentational(svg: str) -> str:
    """``svg`` with every ``style`` attribute and element turned into presentation attributes."""
    def attributes(match: re.Match[str]) -> str:
        pairs = []
        for declaration in match.group(1).split(";"):
            if ":" in declaration:
                name, value = (part.strip() for part in declaration.split(":", 1))
                if re.fullmatch(r"[a-z-]+", name) and '"' not in value:
                    pairs.append(f'{name}="{value}"')
        return " ".join(pairs)

    svg = _STYLE_ELEMENT.sub("", svg)
    svg = _STYLE_ATTR.sub(attributes, svg)
    return svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_facecolor("#ffffff")
    return fig


def _svg(fig) -> str:  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buffer = io.StringIO()
    fig.tight_layout()
    FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None})
    return presentational(buffer.getvalue())


def _axes(fig):  # type: ignore[no-untyped-def]
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=TEXT, labelsize=10)
    return ax


def containment_trend(report: Report) -> str:
    """Containment rate (%) per period, a line with labelled points."""
    with _LOCK:
        fig = _figure(7.5, 3.2)
        ax = _axes(fig)
        keys = [b.key for b in report.by_period]
        rates = [(b.figures.rates()["containment_rate"] or 0) * 100 for b in report.by_period]
        ax.plot(keys, rates, color=BLUE, marker="o", linewidth=2.5)
        for x, y in zip(keys, rates, strict=True):
            ax.annotate(f"{y:.0f}%", (x, y), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=9, color=TEXT)
        ax.set_ylim(0, 105)
        ax.set_ylabel("Contained (%)", color=TEXT)
        ax.set_xlabel(f"Period ({report.group_by})", color=TEXT)
        if len(keys) > 8:
            ax.tick_params(axis="x", labelrotation=45)
        return _svg(fig)


def outcomes_by(rows: Sequence[Breakdown], dimension: str) -> str:
    """Outcome counts per channel or audience, stacked horizontal bars with a legend."""
    with _LOCK:
        fig = _figure(7.5, 1.2 + 0.55 * max(1, len(rows)))
        ax = _axes(fig)
        names = [r.key for r in rows]
        left = [0] * len(rows)
        for outcome in OUTCOME_KEYS:
            counts = [r.figures.outcomes.get(outcome, 0) for r in rows]
            if not any(counts):
                continue
            ax.barh(names, counts, left=left, color=COLOURS[outcome], label=LABELS[outcome],
                    edgecolor="#ffffff")
            left = [a + b for a, b in zip(left, counts, strict=True)]
        ax.set_xlabel("Contacts", color=TEXT)
        ax.set_ylabel(dimension.capitalize(), color=TEXT)
        ax.invert_yaxis()
        if rows:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(rows) < 3 else -0.2),
                      ncol=4, frameon=False, fontsize=9)
        return _svg(fig)


def demand_heatmap(matrix: Sequence[Sequence[int]]) -> str:
    """Contacts by weekday (rows) and hour (columns)."""
    with _LOCK:
        fig = _figure(8.5, 3.4)
        ax = fig.add_subplot()
        image = ax.imshow([list(r) for r in matrix] or [[0] * 24], cmap="Blues", aspect="auto")
        ax.set_yticks(range(len(WEEKDAYS)), labels=list(WEEKDAYS))
        ax.set_xticks(range(0, 24, 2), labels=[f"{h:02d}" for h in range(0, 24, 2)])
        ax.set_xlabel("Hour of the day (UK time)", color=TEXT)
        colourbar = fig.colorbar(image, ax=ax)
        colourbar.set_label("Contacts", color=TEXT)
        return _svg(fig)


def top_topics(topics: Sequence[tuple[str, int]]) -> str:
    """The most asked-about knowledge entries, horizontal bars with counts."""
    with _LOCK:
        fig = _figure(7.5, 1.0 + 0.4 * max(1, len(topics)))
        ax = _axes(fig)
        names = [t for t, _ in topics] or ["(none)"]
        counts = [n for _, n in topics] or [0]
        bars = ax.barh(names, counts, color=BLUE)
        ax.bar_label(bars, padding=3, fontsize=9, color=TEXT)
        ax.invert_yaxis()
        ax.set_xlabel("Contacts", color=TEXT)
        return _svg(fig)


def shift_value(value: ShiftValue) -> str:
    """Value of the shift (GBP) per channel."""
    with _LOCK:
        fig = _figure(7.5, 3.0)
        ax = _axes(fig)
        names = [c.channel for c in value.by_channel] or ["(none)"]
        amounts = [float(c.value) for c in value.by_channel] or [0.0]
        bars = ax.bar(names, amounts, color="#00703c")
        ax.bar_label(bars, labels=[f"£{a:,.2f}" for a in amounts], padding=3, fontsize=9,
                     color=TEXT)
        ax.set_ylabel("Value (£)", color=TEXT)
        ax.set_xlabel("Channel", color=TEXT)
        return _svg(fig)
