"""Every console route as anonymous, officer of another team, officer of the team,
analyst and supervisor; CSRF-less and cross-site posts; the audit trail of decrypting
views; sign-in limits, lock-out, session timeouts, headers, cookies and single sign-on.

The expectations below are written out by hand (not read from the app), and the
walk fails if the app has a route this table does not cover.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.console.conftest import PASSWORD, ConsoleHarness

OK, LOGIN, NO = 200, 303, 403
ROLES = ("anon", "otto", "olive", "ana", "sam")  # otto: officer of another team


def table(t: dict[str, str]) -> dict[str, dict[str, int]]:
    """Expectations for GET routes: role -> status."""
    out = {}
    for path, row in t.items():
        codes = [int(c) for c in row.split()]
        out[path] = dict(zip(ROLES, codes, strict=True))
    return out


GETS = table({
    #                                   anon otto olive ana  sam
    "/console/":                        "303 200  200  200  200",
    "/console/handoffs":                "303 200  200  403  200",
    "/console/handoffs.csv":            "303 200  200  403  200",
    "/console/handoffs.csv?personal=1": "303 403  403  403  200",
    "/console/handoffs/{ref}":          "303 403  200  403  200",
    "/console/handoffs/{ref}/audit.csv": "303 403  200  403  200",
    "/console/live":                    "303 200  200  403  200",
    "/console/takeovers/{tid}":         "303 403  200  403  200",
    "/console/reports":                 "303 403  403  200  200",
    "/console/reports.csv":             "303 403  403  200  200",
    "/console/reports/charts/{chart}.svg": "303 403  403  200  200",
    "/console/review":                  "303 403  403  403  200",
    "/console/review/export.yml":       "303 403  403  403  200",
    "/console/review/knowledge.csv":    "303 403  403  403  200",
    "/console/audit":                   "303 403  403  403  200",
    "/console/audit.csv":               "303 403  403  403  200",
    "/console/login":                   "200 303  303  303  303",
    "/console/static/govuk.css":        "200 200  200  200  200",
    "/console/static/console.js":       "200 200  200  200  200",
})
#: POST routes: who gets past the role check. 403 is the refusal; any other code means the
#: request reached the handler (it may then refuse for another reason, e.g. a second join).
POSTS = table({
    "/console/handoffs/{ref}/status":   "403 403  303  403  303",
    "/console/handoffs/{ref}/assign":   "403 403  303  403  303",
    "/console/handoffs/{ref}/notes":    "403 403  303  403  303",
    "/console/live/join":               "403 403  303  403  303",
    "/console/takeovers/{tid}/messages": "403 403  303  403  303",
    "/console/review/mark":             "403 403  403  403  400",
    "/console/logout":                  "403 303  303  303  303",
})
STREAM = table({"/console/takeovers/{tid}/stream": "303 403  200  403  200"})
#: Routes walked separately (they end or start what the walk needs).
SEPARATE = {"POST /console/login", "POST /console/takeovers/{id}/hand-back",
            "POST /console/takeovers/{id}/close", "GET /health",
            "GET /api/reports/summary", "GET /api/reports/demand", "GET /api/reports/topics"}


def _canonical(path: str) -> str:
    return (path.split("?")[0].replace("{ref}", "{ref}").replace("{tid}", "{id}")
            .replace("{chart}", "{name}"))


def test_the_table_covers_every_route(harness: ConsoleHarness) -> None:
    app = harness.client.server.app
    seen = set()
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:
            for sub in info["app"].router.resources():
                sub_info = sub.get_info()
                path = sub_info.get("formatter") or sub_info.get("path") or sub_info.get(
                    "prefix", "")
                for route in sub:
                    if route.method != "HEAD":
                        seen.add(f"{route.method} {path}")
        else:
            path = info.get("formatter") or info.get("path")
            for route in resource:
                if route.method != "HEAD":
                    seen.add(f"{route.method} {path}")
    covered = {f"GET {_canonical(p)}" for p in GETS} | {f"POST {_canonical(p)}" for p in POSTS}
    covered |= {f"GET {_canonical(p)}" for p in STREAM} | SEPARATE
    static_files = {"GET /console/static"}  # add_static: the files under static/
    assert seen - covered - static_files == set()
    served = {"GET /console/static/console.js"}  # a file of add_static, not a route
    assert covered - SEPARATE - served - seen == set()  # and no stale rows in the table


async def _as(h: ConsoleHarness, role: str) -> None:
    h.client.session.cookie_jar.clear()
    if role != "anon":
        response = await h.login(role)
        assert response.status == 303, await response.text()


async def _takeover(h: ConsoleHarness) -> int:
    """Olive joins the child handoff's widget conversation; the takeover id."""
    conv = "web-" + "a" * 32
    h.rasa.conversation(conv)
    await _as(h, "olive")
    token = await h.csrf()
    r = await h.client.post("/console/live/join", data={
        "csrf_token": token, "conversation_id": conv, "handoff": h.refs["child_safeguarding"]},
        allow_redirects=False)
    assert r.status == 303, await r.text()
    return int(r.headers["Location"].rsplit("/", 1)[1])


def _fill(path: str, h: ConsoleHarness, tid: int) -> str:
    return (path.replace("{ref}", h.refs["child_safeguarding"]).replace("{tid}", str(tid))
            .replace("{chart}", "containment"))


async def test_every_get_route_for_every_role(harness: ConsoleHarness) -> None:
    h = harness
    tid = await _takeover(h)
    failures = []
    for role in ROLES:
        await _as(h, role)
        for path, expected in GETS.items():
            r = await h.client.get(_fill(path, h, tid), allow_redirects=False)
            await r.read()
            if r.status != expected[role]:
                failures.append(f"{role} GET {path}: {r.status}, expected {expected[role]}")
            if r.status == LOGIN and role == "anon":
                assert r.headers["Location"].startswith("/console/login")
    assert not failures, "\n".join(failures)


async def test_the_live_stream_for_every_role(harness: ConsoleHarness) -> None:
    h = harness
    tid = await _takeover(h)
    for role in ROLES:
        await _as(h, role)
        path = _fill("/console/takeovers/{tid}/stream", h, tid)
        r = await h.client.get(path, allow_redirects=False)
        assert r.status == STREAM["/console/takeovers/{tid}/stream"][role], role
        if r.status == OK:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            first = await r.content.readuntil(b"\n\n")
            assert b"event: line" in first
        r.close()


async def test_every_post_route_for_every_role(harness: ConsoleHarness) -> None:
    h = harness
    tid = await _takeover(h)
    forms: dict[str, dict[str, str]] = {
        "/console/handoffs/{ref}/status": {"status": "acknowledged"},
        "/console/handoffs/{ref}/assign": {"assignee": "olive"},
        "/console/handoffs/{ref}/notes": {"note": "called back"},
        "/console/live/join": {"conversation_id": "web-" + "a" * 32,
                               "handoff": h.refs["child_safeguarding"]},
        "/console/takeovers/{tid}/messages": {"message": "hello from the team"},
        "/console/review/mark": {"decision": "ignore"},
        "/console/logout": {},
    }
    failures = []
    for role in ROLES:
        await _as(h, role)
        token = await h.csrf() if role != "anon" else ""
        for path, expected in POSTS.items():
            data = {**forms[path], "csrf_token": token}
            r = await h.client.post(_fill(path, h, tid), data=data, allow_redirects=False)
            await r.read()
            # a second join by anyone allowed is refused as a conflict, not by role
            if (r.status == NO) != (expected[role] == NO):
                failures.append(f"{role} POST {path}: {r.status}, expected {expected[role]}")
            if path == "/console/logout" and role != "anon":
                await _as(h, role)
                token = await h.csrf()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("tamper", ["no token", "wrong token", "other origin", "cross-site"])
async def test_csrf_less_and_cross_site_posts_are_refused(harness: ConsoleHarness,
                                                          tamper: str) -> None:
    h = harness
    await _as(h, "olive")
    token = await h.csrf()
    ref = h.refs["child_safeguarding"]
    data: dict[str, str] = {"status": "acknowledged", "csrf_token": token}
    headers: dict[str, str] = {}
    if tamper == "no token":
        del data["csrf_token"]
    elif tamper == "wrong token":
        data["csrf_token"] = token[::-1]
    elif tamper == "other origin":
        headers["Origin"] = "https://evil.example"
    else:
        headers["Sec-Fetch-Site"] = "cross-site"
    r = await h.client.post(f"/console/handoffs/{ref}/status", data=data, headers=headers,
                            allow_redirects=False)
    assert r.status == NO
    page = await (await h.client.get(f"/console/handoffs/{ref}")).text()
    assert 'id="current-status"><strong class="govuk-tag govuk-tag--blue">New' in page
    # the same post done properly works (so the refusal above was the tampering)
    ok = await h.client.post(f"/console/handoffs/{ref}/status",
                             data={"status": "acknowledged", "csrf_token": token},
                             allow_redirects=False)
    assert ok.status == 303


async def test_sign_in_form_needs_its_double_submit_token(harness: ConsoleHarness) -> None:
    h = harness
    r = await h.client.post("/console/login", data={"username": "sam", "password": PASSWORD},
                            allow_redirects=False)
    assert r.status == NO
    r = await h.client.post("/console/login", data={
        "username": "sam", "password": PASSWORD, "login_csrf": "x"},
        headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert r.status == NO


async def test_each_decrypting_view_is_audited_shown_and_exported(
        harness: ConsoleHarness) -> None:
    h = harness
    ref = h.refs["child_safeguarding"]
    await _as(h, "olive")
    for _ in range(2):
        page = await (await h.client.get(f"/console/handoffs/{ref}")).text()
        assert "Pat Example" in page and "01632 960123" in page
    await _as(h, "sam")
    page = await (await h.client.get(f"/console/handoffs/{ref}")).text()
    audit = page[page.index('id="audit"'):]
    assert len(re.findall(r"<td class=\"govuk-table__cell\">olive</td><td "
                          r"class=\"govuk-table__cell\">decrypted</td>", audit)) == 2
    assert "Pat Example" not in audit  # the trail names no personal data
    csv_text = await (await h.client.get(f"/console/handoffs/{ref}/audit.csv")).text()
    rows = [line for line in csv_text.splitlines() if ",decrypted," in line]
    assert [r.split(",")[1] for r in rows] == ["sam", "olive", "olive"]
    # a personal CSV export is a decrypting view of each handoff in it
    await h.client.get("/console/handoffs.csv?personal=1&status=all")
    entries = await h.client.get(f"/console/handoffs/{ref}/audit.csv")
    assert "in a CSV export" in await entries.text()
    other = h.refs["adult_safeguarding"]
    assert "decrypted" in await (await h.client.get(f"/console/handoffs/{other}/audit.csv")).text()


async def test_queue_csv_has_personal_fields_only_for_supervisors(
        harness: ConsoleHarness) -> None:
    h = harness
    await _as(h, "olive")
    officer = await (await h.client.get("/console/handoffs.csv?status=all")).text()
    assert "Pat Example" not in officer and h.refs["child_safeguarding"] in officer
    assert h.refs["adult_safeguarding"] not in officer  # another team's
    await _as(h, "sam")
    supervisor = await (await h.client.get("/console/handoffs.csv?status=all&personal=1")).text()
    assert supervisor.count("Pat Example") == 3


async def test_queue_filters_and_oldest_overdue_first(harness: ConsoleHarness) -> None:
    h = harness
    await _as(h, "sam")
    page = await (await h.client.get("/console/handoffs?status=all")).text()
    refs = re.findall(r'href="/console/handoffs/(FP-[^"]+)"', page)
    assert refs[0] == h.refs["overdue"]
    assert "Overdue by" in page
    only = await (await h.client.get("/console/handoffs?overdue=1")).text()
    assert re.findall(r'href="/console/handoffs/(FP-[^"]+)"', only) == [h.refs["overdue"]]
    team = await (await h.client.get(
        "/console/handoffs?team=adult-social-care-front-door")).text()
    assert re.findall(r'href="/console/handoffs/(FP-[^"]+)"', team) == [
        h.refs["adult_safeguarding"]]
    # an officer cannot widen the filter to another team
    await _as(h, "olive")
    mine = await (await h.client.get(
        "/console/handoffs?team=adult-social-care-front-door")).text()
    assert h.refs["adult_safeguarding"] not in mine and h.refs["child_safeguarding"] in mine


async def test_closing_needs_a_note_and_history_records_who(harness: ConsoleHarness) -> None:
    h = harness
    ref = h.refs["child_safeguarding"]
    await _as(h, "olive")
    token = await h.csrf()

    async def move(status: str, note: str = "") -> Any:
        return await h.client.post(f"/console/handoffs/{ref}/status", data={
            "status": status, "note": note, "csrf_token": token}, allow_redirects=False)

    assert (await move("acknowledged")).status == 303
    assert (await move("contacted", "phoned the caller")).status == 303
    refused = await move("closed")
    assert refused.status == 400
    assert "Enter a note saying how the handoff was closed" in await refused.text()
    assert (await move("closed", "referred to the social worker")).status == 303
    page = await (await h.client.get(f"/console/handoffs/{ref}")).text()
    history = page[page.index('id="history"'):page.index('id="audit"')]
    assert history.count(">olive<") == 3 and "referred to the social worker" in history


async def test_lock_out_after_wrong_passwords_and_rate_limit(harness: ConsoleHarness) -> None:
    h = harness
    for _ in range(4):
        assert (await h.login("olive", "wrong password!")).status == 400
    locked = await h.login("olive", "wrong password!")
    assert "locked" in await locked.text()
    still = await h.login("olive")  # the right password, but locked
    assert still.status == 400 and "locked" in await still.text()
    h.clock.now += timedelta(minutes=16)
    assert (await h.login("olive")).status == 303
    h.client.session.cookie_jar.clear()
    statuses = [(await h.login("nobody", "x" * 12)).status for _ in range(6)]
    assert statuses[-1] == 429  # 10 attempts per address per 10 minutes


async def test_idle_and_absolute_session_timeouts(harness: ConsoleHarness) -> None:
    h = harness
    await _as(h, "sam")
    assert (await h.client.get("/console/", allow_redirects=False)).status == OK
    h.clock.now += timedelta(minutes=21)
    assert (await h.client.get("/console/", allow_redirects=False)).status == LOGIN
    await _as(h, "sam")
    for _ in range(60):  # active every 15 minutes: idle never reached, absolute is
        h.clock.now += timedelta(minutes=15)
        r = await h.client.get("/console/", allow_redirects=False)
        if r.status != OK:
            break
    assert r.status == LOGIN
    assert timedelta(hours=9, minutes=45) <= (h.clock.now - _login_time(h)) <= timedelta(
        hours=10, minutes=15)


def _login_time(h: ConsoleHarness) -> Any:
    from sqlalchemy import create_engine, text

    engine = create_engine(h.settings.database_url)
    with engine.connect() as conn:
        at = conn.execute(text("SELECT max(at) FROM console_audit WHERE action='signed_in'")
                          ).scalar_one()
    engine.dispose()
    from datetime import datetime, timezone

    return datetime.fromisoformat(str(at)).replace(tzinfo=timezone.utc)


async def test_security_headers_and_cookie_flags(harness: ConsoleHarness) -> None:
    h = harness
    r = await h.client.get("/console/login")
    csp = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "no-store"
    login = await h.login("sam")
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = await (await h.client.get("/console/handoffs")).text()
    assert " style=" not in page and "<style" not in page and "<script>" not in page
    svg = await h.client.get("/console/reports")  # analyst/supervisor page with charts
    assert svg.status == OK
    chart = await h.client.get("/console/reports/charts/channels.svg")
    assert chart.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "style=" not in await chart.text()


async def test_secure_cookie_prefix_when_secure(tmp_path: Any, clock: Any, aiohttp_client: Any,
                                                seeded: Any) -> None:
    from firstpoint.console.app import build_app
    from firstpoint.records.db import make_engine

    settings, _ = seeded
    settings = replace(settings, console_secure_cookies=True)
    engine = make_engine(settings.database_url)
    client = await aiohttp_client(build_app(settings, engine=engine, clock=clock))
    page = await client.get("/console/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', await page.text())
    assert token
    # the login cookie is Secure: send it by hand, as a browser on https would
    r = await client.post("/console/login", data={
        "login_csrf": token.group(1), "username": "sam", "password": PASSWORD},
        cookies={"fpconsole_login": token.group(1)}, allow_redirects=False)
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-fpconsole=") and "Secure" in cookie and "Path=/" in cookie
    engine.dispose()


@pytest.mark.parametrize("proxy,expected", [("127.0.0.1", OK), ("10.9.9.9", LOGIN)])
async def test_single_sign_on_header_only_from_the_allowed_proxy(
        clock: Any, aiohttp_client: Any, seeded: Any, proxy: str, expected: int) -> None:
    from firstpoint.console.app import build_app
    from firstpoint.records.db import make_engine

    settings, _ = seeded
    settings = replace(settings, console_sso_header="X-Remote-User",
                       console_sso_proxies=(proxy,))
    engine = make_engine(settings.database_url)
    client = await aiohttp_client(build_app(settings, engine=engine, clock=clock))
    r = await client.get("/console/", headers={"X-Remote-User": "sam"}, allow_redirects=False)
    assert r.status == expected
    if expected == OK:
        assert "Signed in as <strong>Sam</strong>" in await r.text()
        unknown = await client.get("/console/", headers={"X-Remote-User": "mallory"},
                                   allow_redirects=False)
        assert unknown.status == LOGIN  # no account: no sign-in, and the old session is gone
    engine.dispose()


async def test_sso_is_off_by_default(harness: ConsoleHarness) -> None:
    r = await harness.client.get("/console/", headers={"X-Remote-User": "sam",
                                                       "X-Forwarded-User": "sam"},
                                 allow_redirects=False)
    assert r.status == LOGIN
