"""The reports page (charts with their data tables, filters, CSV) and the review queue.

Reports are for analysts and supervisors; the review queue for supervisors. Both
read only the contact log, which holds no personal data (not-understood texts are
stored redacted).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import time
from collections import OrderedDict
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from firstpoint.console import charts
from firstpoint.console.audit import safe_cell
from firstpoint.console.review import group_messages, nlu_yaml
from firstpoint.console.security import allow, client_address, current_user
from firstpoint.reports.model import OUTCOME_KEYS, WEEKDAYS
from firstpoint.reports.params import ParameterError, make_scope, parse_group_by

CACHE_SECONDS = 30
CHARTS = ("containment", "channels", "audiences", "demand", "topics", "value")
_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _report(state: Any, query: Any) -> tuple[Any, Any]:
    """(report, value of the shift) for the query's filters (cached for up to 30 s)."""
    from firstpoint.reports.queries import build_report
    from firstpoint.reports.value import compute_value, load_reporting

    scope = make_scope(query.get("from") or None, query.get("to") or None,
                       query.get("channel") or None, query.get("audience") or None)
    group_by = parse_group_by(query.get("group_by") or None)
    key = (scope, group_by, int(time.monotonic() // CACHE_SECONDS))
    if key in _CACHE:  # the page and its six charts ask for the same figures at once
        return _CACHE[key]  # type: ignore[no-any-return]
    report = build_report(state.engine, scope.date_from, scope.date_to, scope.channel,
                          scope.audience, group_by=group_by, top_n=10)
    reporting = getattr(state, "_reporting", None)
    if reporting is None:
        reporting = load_reporting(state.settings.content_dir)
        state._reporting = reporting
    value = compute_value(report, reporting)
    _CACHE[key] = (report, value)
    while len(_CACHE) > 16:
        _CACHE.popitem(last=False)
    return report, value


def _filters(query: Any) -> dict[str, str]:
    return {k: str(query.get(k) or "") for k in ("from", "to", "channel", "audience",
                                                  "group_by")}


@allow("supervisor", "analyst")
async def reports_page(request: web.Request) -> web.Response:
    """Channel-shift figures with charts and tables."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    filters = _filters(request.query)
    try:
        report, value = await state.run(_report, state, request.query)
    except (ParameterError, ValueError) as exc:
        return render(request, "reports.html", {"title": "Reports", "report": None,
                                                "filters": filters, "error": str(exc),
                                                "query": ""}, status=400)
    return render(request, "reports.html", {
        "title": "Reports", "report": report, "value": value, "filters": filters,
        "error": None, "query": request.query_string, "outcomes": OUTCOME_KEYS,
        "labels": charts.LABELS, "weekdays": WEEKDAYS,
        "rates": {b.key: b.figures.rates() for b in report.by_period},
        "summary_rates": report.summary.rates()})


@allow("supervisor", "analyst")
async def chart(request: web.Request) -> web.Response:
    """One chart as SVG (same filters as the page)."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    name = request.match_info["name"]
    if name not in CHARTS:
        raise web.HTTPNotFound()
    try:
        report, value = await state.run(_report, state, request.query)
    except (ParameterError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    draw = {
        "containment": lambda: charts.containment_trend(report),
        "channels": lambda: charts.outcomes_by(report.by_channel, "channel"),
        "audiences": lambda: charts.outcomes_by(report.by_audience, "audience"),
        "demand": lambda: charts.demand_heatmap(report.demand.matrix),
        "topics": lambda: charts.top_topics(
            [(t.entry_id, t.contacts) for t in report.topics.top_topics]),
        "value": lambda: charts.shift_value(value),
    }[name]
    svg = await asyncio.to_thread(draw)
    etag = '"' + hashlib.sha256(svg.encode()).hexdigest()[:20] + '"'
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8",
                        headers={"ETag": etag})


@allow("supervisor", "analyst")
async def reports_csv(request: web.Request) -> web.Response:
    """The report as tidy CSV (``firstpoint report --format csv``)."""
    from firstpoint.console.app import state_of
    from firstpoint.reports.render import render_csv

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    try:
        report, value = await state.run(_report, state, request.query)
    except (ParameterError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    await state.run(state.audit.record, user.username, "exported", role=user.role,
                    detail="reports CSV", address=client_address(request))
    return web.Response(text=render_csv(report, value), content_type="text/csv",
                        charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="report.csv"'})


# --------------------------------------------------------------------------- review


def _period(query: Any) -> tuple[date, date]:
    today = date.today()
    try:
        start = date.fromisoformat(query.get("from")) if query.get("from") else \
            today - timedelta(days=90)
        end = date.fromisoformat(query.get("to")) if query.get("to") else today
    except ValueError:
        start, end = today - timedelta(days=90), today
    return start, end


@allow("supervisor")
async def review_page(request: web.Request) -> web.Response:
    """Not-understood messages, grouped, with a form per group."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    start, end = _period(request.query)
    messages = await state.run(state.review.unmarked, start, end)
    groups = await asyncio.to_thread(group_messages, messages)
    marks = await state.run(state.review.marks)
    return render(request, "review.html", {
        "title": "Review queue", "groups": groups[:50], "more": max(0, len(groups) - 50),
        "marks": marks[:100], "entries": state.entries, "intents": state.intents,
        "from": start.isoformat(), "to": end.isoformat(), "errors": {},
        "done": request.query.get("done")})


@allow("supervisor")
async def review_mark(request: web.Request) -> web.Response:
    """Mark the chosen texts of a group."""
    from firstpoint.console.app import render, state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    form = await request.post()
    keys = {str(k) for k in form.getall("text", [])}
    decision = str(form.get("decision") or "")
    entry = str(form.get("entry") or "") or None
    intent = str(form.get("intent") or "") or None
    start, end = _period(form)
    messages = {m.key: m.text for m in await state.run(state.review.unmarked, start, end)}
    texts = [messages[k] for k in keys if k in messages]
    error = None
    if not texts:
        error = "Choose at least one message"
    elif entry and entry not in {e for e, _ in state.entries}:
        error = "Choose a knowledge entry from the list"
    elif intent and intent not in state.intents:
        error = "Choose an intent from the list"
    else:
        try:
            count = await state.run(state.review.mark, texts, decision, user.username,
                                    entry_id=entry, intent=intent)
        except ValueError as exc:
            error = str(exc)
    if error:
        return render(request, "error.html", {"title": "There is a problem",
                                              "errors": {"review": error},
                                              "back": "/console/review"}, status=400)
    await state.run(state.audit.record, user.username, "review_marked", role=user.role,
                    detail=f"{count} message(s): {decision}"
                    + (f" ({entry or intent})" if entry or intent else ""),
                    address=client_address(request))
    raise web.HTTPSeeOther(f"/console/review?done={count}")


@allow("supervisor")
async def review_export(request: web.Request) -> web.Response:
    """Training examples as Rasa NLU YAML."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    marks = await state.run(state.review.marks, "training")
    await state.run(state.audit.record, user.username, "review_exported", role=user.role,
                    detail=f"NLU YAML, {len(marks)} example(s)", address=client_address(request))
    return web.Response(text=nlu_yaml(marks), content_type="application/x-yaml",
                        charset="utf-8", headers={
                            "Content-Disposition": 'attachment; filename="nlu_review.yml"'})


@allow("supervisor")
async def review_knowledge_csv(request: web.Request) -> web.Response:
    """Messages marked "add to knowledge", with their entry, as CSV for content editors."""
    from firstpoint.console.app import state_of

    state = state_of(request)
    user = current_user(request)
    assert user is not None
    marks = await state.run(state.review.marks, "knowledge")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("entry_id", "message_redacted", "marked_by", "marked_at_utc"))
    for m in marks:
        writer.writerow([safe_cell(v) for v in (m.entry_id, m.text, m.marked_by,
                                                m.marked_at.isoformat())])
    await state.run(state.audit.record, user.username, "review_exported", role=user.role,
                    detail=f"knowledge CSV, {len(marks)} message(s)",
                    address=client_address(request))
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition":
                                 'attachment; filename="knowledge_review.csv"'})


def add_routes(app: web.Application) -> None:
    """Register the report and review pages."""
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports.csv", reports_csv)
    app.router.add_get("/reports/charts/{name}.svg", chart)
    app.router.add_get("/review", review_page)
    app.router.add_post("/review/mark", review_mark)
    app.router.add_get("/review/export.yml", review_export)
    app.router.add_get("/review/knowledge.csv", review_knowledge_csv)
