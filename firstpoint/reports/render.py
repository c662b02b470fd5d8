"""Render a report and its value as an aligned text table, tidy CSV or JSON.

The CSV is *long* ("tidy"): one row per figure with the columns
``section, dimension, key, metric, value`` so Power BI or Excel can pivot it
without reshaping. Rates are fractions (0–1); money is pounds with two decimals.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from firstpoint.reports.model import OUTCOME_KEYS, WEEKDAYS, Breakdown, Figures, Report
from firstpoint.reports.value import ShiftValue

FORMATS: tuple[str, ...] = ("table", "csv", "json")
CSV_HEADER: tuple[str, ...] = ("section", "dimension", "key", "metric", "value")
RATE_NAMES: tuple[str, ...] = (
    "containment_rate",
    "escalation_rate",
    "not_understood_rate",
    "abandonment_rate",
    "helpful_rate",
)

Row = tuple[str, str, str, str, Any]


def report_document(report: Report, value: ShiftValue | None = None) -> dict[str, Any]:
    """The JSON document: ``{"report": ..., "value": ...}`` (value omitted if None)."""
    doc: dict[str, Any] = {"report": report.to_dict()}
    if value is not None:
        doc["value"] = value.to_dict()
    return doc


def render_json(report: Report, value: ShiftValue | None = None) -> str:
    """Pretty-printed JSON of :func:`report_document`."""
    return json.dumps(report_document(report, value), indent=2, ensure_ascii=False) + "\n"


# --- CSV -------------------------------------------------------------------------


def _figure_rows(section: str, dimension: str, key: str, fig: Figures) -> Iterator[Row]:
    data = fig.to_dict()
    yield section, dimension, key, "contacts", fig.contacts
    for outcome in OUTCOME_KEYS:
        yield section, dimension, key, outcome, data["outcomes"][outcome]
    for metric in ("decided", "contained", "escalated", "helpful", "not_helpful"):
        yield section, dimension, key, metric, data[metric]
    for metric in RATE_NAMES:
        yield section, dimension, key, metric, data[metric]


def report_rows(report: Report, value: ShiftValue | None = None) -> Iterator[Row]:
    """Every figure as ``(section, dimension, key, metric, value)``."""
    yield from _figure_rows("summary", "all", "all", report.summary)
    for section, dimension, rows in (
        ("by_channel", "channel", report.by_channel),
        ("by_audience", "audience", report.by_audience),
        ("by_period", report.group_by, report.by_period),
    ):
        for row in rows:
            yield from _figure_rows(section, dimension, row.key, row.figures)
    for team in report.escalation_by_team:
        for metric in ("handed_off", "emergency", "total"):
            yield "escalation", "handoff_team", team.team, metric, getattr(team, metric)
    for weekday, counts in enumerate(report.demand.matrix):
        for hour, n in enumerate(counts):
            yield "demand", "weekday_hour", f"{WEEKDAYS[weekday]} {hour:02d}", "contacts", n
    for month, n in report.demand.by_month:
        yield "demand", "month", month, "contacts", n
    for topic in report.topics.top_topics:
        yield "top_topics", "entry_id", topic.entry_id, "contacts", topic.contacts
    for msg in report.topics.top_not_understood:
        yield "top_not_understood", "text_redacted", msg.text_redacted, "messages", msg.messages
        yield "top_not_understood", "text_redacted", msg.text_redacted, "contacts", msg.contacts
    if value is not None:
        yield from _value_rows(value)


def _value_rows(value: ShiftValue) -> Iterator[Row]:
    for cost_class, cost in value.unit_costs_gbp.items():
        yield "value", "cost_class", cost_class, "unit_cost_gbp", cost
    for cost_class, share in value.avoided_channel_share.items():
        yield "value", "cost_class", cost_class, "avoided_share", share
    for line in value.by_channel:
        yield "value", "channel", line.channel, "contained", line.contained
        yield "value", "channel", line.channel, "not_valued", line.not_valued
        yield "value", "channel", line.channel, "saving_per_contact_gbp", line.saving_per_contact
        yield "value", "channel", line.channel, "value_gbp", line.value
    yield "value", "all", "all", "contained", value.contained
    yield "value", "all", "all", "not_valued", value.not_valued
    yield "value", "all", "all", "value_gbp", value.total


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render_csv(report: Report, value: ShiftValue | None = None) -> str:
    """Tidy long CSV (header ``section,dimension,key,metric,value``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for section, dimension, key, metric, figure in report_rows(report, value):
        writer.writerow((section, dimension, key, metric, _csv_value(figure)))
    return out.getvalue()


# --- table -----------------------------------------------------------------------


def pct(rate: float | None) -> str:
    """``0.5833`` -> ``58.3%``; ``None`` -> ``-``."""
    return "-" if rate is None else f"{rate * 100:.1f}%"


def one_line(text: str, width: int = 60) -> str:
    """Collapse whitespace and cut to ``width`` characters (with an ellipsis) for a cell."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def gbp(amount: Decimal) -> str:
    """``Decimal('1234.5')`` -> ``£1,234.50``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}£{abs(amount):,.2f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> str:
    """Columns padded to their widest cell; first column left-aligned, others right."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append(indent + "  ".join(parts).rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


BREAKDOWN_HEADERS = (
    "",
    "contacts",
    "answered",
    "declined",
    "handoff",
    "emerg.",
    "not_und.",
    "abandon.",
    "open",
    "contain%",
    "escal%",
    "not_und%",
    "aband%",
    "helpful%",
)


def _helpful(rate: float | None, rated: int) -> str:
    return "-" if rated == 0 else f"{pct(rate)} of {rated}"


def _breakdown_cells(key: str, fig: Figures) -> list[Any]:
    rates = fig.rates()
    return [
        key,
        fig.contacts,
        *(fig.outcomes.get(k, 0) for k in OUTCOME_KEYS),
        pct(rates["containment_rate"]),
        pct(rates["escalation_rate"]),
        pct(rates["not_understood_rate"]),
        pct(rates["abandonment_rate"]),
        _helpful(rates["helpful_rate"], fig.rated),
    ]


def _breakdown_table(title: str, rows: Sequence[Breakdown], summary: Figures) -> str:
    body = [_breakdown_cells(r.key, r.figures) for r in rows]
    body.append(_breakdown_cells("all", summary))
    return f"{title}\n{format_table(BREAKDOWN_HEADERS, body)}"


def _summary_text(report: Report) -> str:
    fig = report.summary
    rates = fig.rates()
    rated_text = (
        f"{_helpful(rates['helpful_rate'], fig.rated)} ratings" if fig.rated else "no ratings"
    )
    rows = [
        ("Contacts", fig.contacts, ""),
        ("Decided (have an outcome)", fig.decided, "denominator of the rates"),
        ("Contained (answered + declined)", fig.contained, pct(rates["containment_rate"])),
        ("Escalated (handed off + emergency)", fig.escalated, pct(rates["escalation_rate"])),
        ("Not understood", fig.outcomes["not_understood"], pct(rates["not_understood_rate"])),
        ("Abandoned", fig.outcomes["abandoned"], pct(rates["abandonment_rate"])),
        ("Open (no outcome yet)", fig.open, ""),
        ("Rated helpful", fig.helpful, rated_text),
        ("Rated not helpful", fig.not_helpful, ""),
    ]
    return "Summary\n" + format_table(("", "count", "rate"), rows)


def _demand_text(report: Report) -> str:
    headers = ["", *(f"{h:02d}" for h in range(24)), "total"]
    rows = [
        [WEEKDAYS[d], *counts, sum(counts)] for d, counts in enumerate(report.demand.matrix)
    ]
    months = format_table(("month", "contacts"), report.demand.by_month)
    return (
        "Demand by council-local hour of day and weekday\n"
        + format_table(headers, rows)
        + "\n\nDemand by month\n"
        + months
    )


def _value_text(value: ShiftValue) -> str:
    costs = ", ".join(f"{k} {gbp(v)}" for k, v in value.unit_costs_gbp.items())
    shares = ", ".join(f"{k} {float(v) * 100:.0f}%" for k, v in value.avoided_channel_share.items())
    rows: list[list[Any]] = [
        [v.channel, v.cost_class, v.contained, v.not_valued]
        + [gbp(v.saving_per_contact), gbp(v.value)]
        for v in value.by_channel
    ]
    rows.append(["all", "", value.contained, value.not_valued, "", gbp(value.total)])
    table = format_table(
        ("channel", "cost class", "contained", "not valued", "saving/contact", "value"), rows
    )
    notes = [
        f"  Unit costs: {costs} ({value.source})",
        f"  Avoided channel share of contained contacts: {shares}",
        "  Only contained contacts are valued; handed-off and other contacts count zero.",
    ]
    if value.unmapped_channels:
        notes.append(f"  Costed as web (no cost class): {', '.join(value.unmapped_channels)}")
    return "Value of the shift\n" + table + "\n" + "\n".join(notes)


def render_table(report: Report, value: ShiftValue | None = None) -> str:
    """A plain-text report for a terminal (every section, aligned columns, £ amounts)."""
    scope = report.scope
    filters = f"channel={scope.channel or 'all'}, audience={scope.audience or 'all'}"
    parts = [
        f"FirstPoint channel-shift report: {scope.date_from.isoformat()} to "
        f"{scope.date_to.isoformat()} (council-local dates, inclusive)\n"
        f"Filters: {filters}; periods by {report.group_by}",
        _summary_text(report),
        _breakdown_table("By channel", report.by_channel, report.summary),
        _breakdown_table("By audience", report.by_audience, report.summary),
        _breakdown_table(f"By {report.group_by}", report.by_period, report.summary),
    ]
    teams = [(t.team, t.handed_off, t.emergency, t.total) for t in report.escalation_by_team]
    parts.append(
        "Escalation by handoff team\n"
        + format_table(("team", "handed_off", "emergency", "total"), teams)
    )
    parts.append(_demand_text(report))
    topics = [(t.entry_id, t.contacts) for t in report.topics.top_topics]
    parts.append("Top topics\n" + format_table(("entry", "contacts"), topics))
    messages = [
        (one_line(m.text_redacted), m.messages, m.contacts)
        for m in report.topics.top_not_understood
    ]
    parts.append(
        "Top not-understood messages (redacted)\n"
        + format_table(("message", "messages", "contacts"), messages)
    )
    if value is not None:
        parts.append(_value_text(value))
    return "\n\n".join(parts) + "\n"


def render(report: Report, value: ShiftValue | None = None, fmt: str = "table") -> str:
    """Render in ``fmt`` (table, csv or json)."""
    if fmt == "table":
        return render_table(report, value)
    if fmt == "csv":
        return render_csv(report, value)
    if fmt == "json":
        return render_json(report, value)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
