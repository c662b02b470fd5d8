"""The console in real headless Chromium (Debian's) against the real Rasa server,
action server and web widget: one browser for the module, two tabs (the caller on
the demo council page, the officer in the console).

Sign in; a widget handoff appears in the queue; join the live widget conversation
(the bot is paused, the caller is told who joined), messages both ways, hand back
(the bot answers again); work the handoff from new to closed (a close without a
note is refused); read the reports; mark a not-understood message and export it as
NLU YAML. An axe-core scan of every page finds no serious or critical violations.
Screenshots and axe results go to results/console/ (git-ignored).

The console runs in this process on a clock that starts on a Monday at 11:00, so
the teams are open whenever the test runs. Without Chromium or the vendored files
these tests skip with a message, and fail when FIRSTPOINT_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from firstpoint.settings import PROJECT_ROOT, get_settings
from tests.connectors.conftest import free_port
from tests.console.conftest import OPEN_TIME, PASSWORD
from tests.services import service_missing

pytestmark = pytest.mark.rasa_server

AXE = PROJECT_ROOT / "connectors" / "web" / "vendor" / "axe.min.js"
GOVUK = PROJECT_ROOT / "firstpoint" / "console" / "static" / "vendor" / "govuk-frontend.min.css"
RESULTS = PROJECT_ROOT / "results" / "console"
HANDOFF_OPENING = "I need to speak to my social worker about my case"
HANDOFF_ANSWERS = ("skip", "skip", "no contact", "yes")
#: Not understood by the assistant (as in tests/conversation/test_contact_log.py); the
#: contact log keeps it redacted, so the review queue shows "[EMAIL]", never the address.
GIBBERISH = "qwzx plorp vrrm"
NOT_UNDERSTOOD = GIBBERISH + " jo.bloggs@example.com"
BOT = "document.querySelectorAll('.fpw-msg--bot').length"
IDLE = "document.querySelector('.fpw-typing').hidden"


class FlowingClock:
    """Time that flows from OPEN_TIME (a Monday, 11:00 UK time) at the real rate."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> datetime:
        from datetime import timedelta

        return OPEN_TIME + timedelta(seconds=time.monotonic() - self.start)


@dataclass
class Live:
    """The running stack, the in-process console and the browser tabs."""

    stack: Any
    console_url: str
    caller: Any
    officer: Any
    settings: Any


class ConsoleThread:
    """The API app with the console, served from a background event loop."""

    def __init__(self, settings: Any, port: int) -> None:
        from firstpoint.console.app import build_app

        self.loop = asyncio.new_event_loop()
        self.app = build_app(settings, clock=FlowingClock(), poll_seconds=0.5)
        self.port = port
        self.thread = threading.Thread(target=self._run, name="console", daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(60):
            raise RuntimeError("the console did not start")

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Rasa + actions + demo page; the console; Chromium with two tabs."""
    from tests.connectors.browser import CHROMIUM, Browser

    if not Path(CHROMIUM).exists():
        service_missing("chromium", f"{CHROMIUM} is missing; scripts/install.sh installs it")
    for needed in (AXE, GOVUK):
        if not needed.exists():
            service_missing(needed.name, f"{needed} is missing; scripts/install.sh vendors it")
    from firstpoint.records.migrate import upgrade
    from firstpoint.runner import start_stack

    var_dir: Path = tmp_path_factory.mktemp("firstpoint-console")
    settings = replace(get_settings(), var_dir=var_dir,
                       database_url=f"sqlite:///{var_dir / 'firstpoint.db'}",
                       data_key=Fernet.generate_key().decode(), rasa_port=free_port(),
                       action_port=free_port(), api_port=free_port(), web_port=free_port(),
                       smtp_port=free_port(), dev_mode=False, web_origins=(),
                       console_secure_cookies=True)
    upgrade(settings.database_url)
    stack = start_stack(settings, with_api=False, with_web=True)
    console = None
    browser = None
    try:
        settings = replace(settings, rasa_api_token=stack.secrets["FIRSTPOINT_RASA_API_TOKEN"])
        console = ConsoleThread(settings, free_port())
        console.start()
        browser = Browser(tmp_path_factory.mktemp("chromium-console"))
        caller, officer = browser.page(), browser.page()
        for tab in (caller, officer):
            tab.viewport(1280, 900)
        yield Live(stack, f"http://127.0.0.1:{console.port}/console", caller, officer, settings)
    finally:
        if browser is not None:
            browser.close()
        if console is not None:
            console.stop()
        stack.stop()


# ------------------------------------------------------------------ helpers


def _axe(page: Any, label: str) -> list[dict]:
    page.evaluate(AXE.read_text(encoding="utf-8") + "; true")
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa', 'wcag22aa', 'best-practice']}, resultTypes: ['violations']})"
        ".then(r => ({violations: r.violations.map(v => ({id: v.id, impact: v.impact,"
        " help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})),"
        " passes: r.passes.length}))")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"axe-{label}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    assert result["passes"] > 10  # the scan really ran
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _check_page(page: Any, label: str, status: int = 200) -> None:
    """axe at 1280 px and 320 px (reflow), a screenshot, and no script errors.

    ``status``: the page's own HTTP status (Chromium logs a 4xx page as an error).
    """
    assert _axe(page, label) == [], label
    page.screenshot(RESULTS / f"{label}.png")
    page.viewport(320, 800)
    assert _axe(page, f"{label}-320") == [], label
    assert page.evaluate("document.documentElement.scrollWidth <= 320 + 1"), \
        f"{label} scrolls sideways at 320 px"
    page.viewport(1280, 900)
    own = f"status of {status} " if status >= 400 else None
    errors = [e for e in page.errors if not (own and own in e)]
    page.errors.clear()
    assert errors == [], errors


def _fill(page: Any, selector: str, text: str) -> None:
    page.evaluate(f"document.querySelector({selector!r}).focus()")
    page.evaluate(f"document.querySelector({selector!r}).value = ''")
    page.type(text)


def _submit(page: Any, selector: str) -> None:
    """Press a button with the keyboard and wait for the next page."""
    page.evaluate("window.__fpOld = true")
    page.evaluate(f"document.querySelector({selector!r}).focus()")
    page.press("Enter")
    page.wait_for("!window.__fpOld && document.readyState === 'complete'",
                  what=f"the page after {selector}")


def _say(page: Any, text: str, expect_reply: bool = True) -> None:
    page.evaluate("document.querySelector('#fpw-input').focus()")
    before = page.evaluate(BOT)
    page.type(text)
    page.press("Enter")
    if expect_reply:
        page.wait_for(f"{BOT} > {before} && {IDLE}", timeout=120, what=f"a reply to {text!r}")
    else:
        page.wait_for(IDLE, what=f"the turn of {text!r} to finish")


def _bot_texts(page: Any) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('.fpw-msg--bot')]"
                         ".map(e => e.innerText.trim())")


def _sign_in(page: Any, live: Live, username: str) -> None:
    page.navigate(live.console_url + "/login")
    _fill(page, "#username", username)
    _fill(page, "#password", PASSWORD)
    _submit(page, "form[action='/console/login'] button")
    assert page.evaluate("document.querySelector('.fp-account')?.innerText || ''").startswith(
        "Signed in as"), page.evaluate("document.body.innerText")


def _accounts(live: Live, team: str) -> None:
    from firstpoint.console.accounts import Accounts
    from firstpoint.records.db import make_engine, session_factory

    engine = make_engine(live.settings.database_url)
    accounts = Accounts(session_factory(engine))
    if accounts.get("olive") is None:
        accounts.add("olive", "officer", team_id=team, password=PASSWORD, display_name="Olive")
        accounts.add("sam", "supervisor", password=PASSWORD, display_name="Sam")
    engine.dispose()


# ------------------------------------------------------------------ the flow


def test_sign_in_takeover_handoff_reports_and_review(live: Live) -> None:
    caller, officer = live.caller, live.officer
    # a message the assistant does not understand, for the review queue (REST channel)
    import urllib.request

    request = urllib.request.Request(live.stack.webhook_url, data=json.dumps(
        {"sender": "console-review-1", "message": NOT_UNDERSTOOD}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310 - localhost
        assert resp.status == 200
    # the caller asks for a person through the widget and gets a reference
    caller.navigate(live.stack.web_url + "/")
    caller.wait_for("document.querySelector('.fpw-launcher')", what="the launcher")
    caller.evaluate("document.querySelector('.fpw-launcher').click()")
    caller.wait_for("!document.querySelector('#fpw-panel').hidden", what="the panel")
    caller.wait_for("document.cookie.includes('fpw_session=')", what="the widget's session")
    _say(caller, HANDOFF_OPENING)
    for text in HANDOFF_ANSWERS:
        _say(caller, text)
    reference = caller.wait_for("document.querySelector('.fpw-reference__value')?.innerText",
                                what="the handoff reference")
    from firstpoint.records.handoffs import service_from_settings

    summary = next(s for s in service_from_settings(live.settings, migrate=False).list()
                   if s.reference == reference)
    _accounts(live, summary.team_id)

    # sign in (the Secure, __Host- cookie works on http://127.0.0.1) and find the handoff
    officer.navigate(live.console_url + "/login")
    _check_page(officer, "login")
    _sign_in(officer, live, "olive")
    officer.navigate(live.console_url + "/handoffs")
    assert reference in officer.evaluate("document.querySelector('#queue').innerText")
    _check_page(officer, "handoffs")
    officer.navigate(f"{live.console_url}/handoffs/{reference}")
    assert "social worker" in officer.evaluate("document.querySelector('#caller-message')"
                                               ".innerText")
    _check_page(officer, "handoff")
    officer.navigate(live.console_url + "/live")
    assert reference in officer.evaluate("document.querySelector('#live').innerText")
    _check_page(officer, "live")

    # join: the bot is paused and the caller is told who joined
    officer.navigate(f"{live.console_url}/handoffs/{reference}")
    before = caller.evaluate(BOT)
    _submit(officer, "#join")
    assert "/console/takeovers/" in officer.evaluate("location.pathname")
    team_name = officer.evaluate("document.querySelector('.govuk-caption-l').innerText")
    caller.wait_for(f"{BOT} > {before}", what="the joined message")
    joined = _bot_texts(caller)[-1]
    assert "You are now talking to a member of the" in joined
    assert team_name.split(" · ")[0] in joined
    _check_page(officer, "takeover")

    # officer -> caller, through the widget's socket.io channel
    before = caller.evaluate(BOT)
    _fill(officer, "#message", "Hello, this is Olive. How can I help?")
    officer.evaluate("document.querySelector('#send').click()")
    caller.wait_for(f"{BOT} > {before}", what="the officer's message in the widget")
    assert _bot_texts(caller)[-1].endswith("Hello, this is Olive. How can I help?")
    # the page empties the box when the console answers, which may come after the widget
    # already shows the message (the message goes to Rasa first): wait for it, no race
    officer.wait_for("document.querySelector('#message').value === ''", timeout=20,
                     what="the message box emptied after sending")
    # caller -> officer: no bot reply (paused), the line arrives live in the console
    before = caller.evaluate(BOT)
    _say(caller, "I am worried about my daughter", expect_reply=False)
    officer.wait_for("[...document.querySelectorAll('#lines .fp-line--caller')]"
                     ".some(e => e.innerText.includes('worried about my daughter'))",
                     what="the caller's reply in the console")
    time.sleep(2)
    assert caller.evaluate(BOT) == before, "the bot answered while paused"
    assert "worried about my daughter" in officer.evaluate(
        "document.querySelector('#announce').innerText")  # the polite live region

    # hand back: the caller is told and the bot answers again
    before = caller.evaluate(BOT)
    _submit(officer, "#hand-back")
    caller.wait_for(f"{BOT} > {before}", what="the hand-back message")
    assert "back with FirstPoint" in _bot_texts(caller)[-1]
    _say(caller, "whats the phone number for the council")
    assert any("01632 960000" in t for t in _bot_texts(caller)[-3:])
    caller.screenshot(RESULTS / "widget-after-takeover.png")

    # work the handoff from new to closed; the transcript records who spoke
    officer.navigate(f"{live.console_url}/handoffs/{reference}")
    page_text = officer.evaluate("document.body.innerText")
    assert "olive: Hello, this is Olive." in page_text  # who spoke: the account
    assert "Caller: I am worried about my daughter" in page_text
    for status in ("acknowledged", "contacted"):
        officer.evaluate(f"document.querySelector('#status-{status}').checked = true")
        _submit(officer, "#save-status")
        assert "Status changed." in officer.evaluate("document.body.innerText")
    officer.evaluate("document.querySelector('#status-closed').checked = true")
    _submit(officer, "#save-status")
    assert "Enter a note saying how the handoff was closed" in officer.evaluate(
        "document.querySelector('.govuk-error-summary').innerText")
    _check_page(officer, "handoff-error", status=400)
    officer.evaluate("document.querySelector('#status-closed').checked = true")
    _fill(officer, "#note", "Spoke to the caller; passed to the duty social worker.")
    _submit(officer, "#save-status")
    assert "Closed" in officer.evaluate("document.querySelector('#current-status').innerText")
    audit = officer.evaluate("document.querySelector('#audit').innerText")
    for action in ("decrypted", "joined", "sent message", "handed back", "status changed"):
        assert action in audit, action

    # the supervisor: reports, review queue, audit trail
    _submit(officer, ".fp-account button")
    _sign_in(officer, live, "sam")
    officer.navigate(live.console_url + "/reports")
    charts = officer.evaluate("[...document.querySelectorAll('img.fp-chart__img')]"
                              ".map(i => i.complete && i.naturalWidth > 0)")
    assert charts == [True] * 6
    assert officer.evaluate("document.querySelectorAll('.fp-chart table').length") == 6
    _check_page(officer, "reports")
    deadline = time.monotonic() + 60
    while True:
        officer.navigate(live.console_url + "/review")
        if GIBBERISH in officer.evaluate("document.body.innerText"):
            break
        assert time.monotonic() < deadline, "the not-understood message never reached review"
        time.sleep(2)
    assert "jo.bloggs" not in officer.evaluate("document.body.innerText")
    _check_page(officer, "review")
    group = officer.evaluate(
        "[...document.querySelectorAll('form.fp-review-group')].findIndex(f => "
        f"f.innerText.includes({GIBBERISH!r})) + 1")
    form = f"form.fp-review-group:nth-of-type({group})"
    officer.evaluate(f"""(() => {{ const f = [...document.querySelectorAll(
        'form.fp-review-group')][{group - 1}];
        f.querySelectorAll('input[name=text]').forEach(c => c.checked =
            c.closest('.govuk-checkboxes__item').innerText.includes({GIBBERISH!r}));
        f.querySelector('input[value=training]').checked = true;
        f.querySelector('select[name=intent]').value = 'out_of_scope';
        if (!f.querySelector('select[name=intent]').value)
            f.querySelector('select[name=intent]').selectedIndex = 1;
        f.querySelector('button').setAttribute('id', 'mark-it'); }})()""")
    del form
    intent = officer.evaluate("document.querySelector('#mark-it').closest('form')"
                              ".querySelector('select[name=intent]').value")
    _submit(officer, "#mark-it")
    assert "message(s) marked" in officer.evaluate("document.body.innerText")
    exported = officer.evaluate("fetch('/console/review/export.yml').then(r => r.text())")
    assert f"- intent: {intent}" in exported and GIBBERISH in exported
    officer.navigate(live.console_url + "/audit")
    assert "review marked" in officer.evaluate("document.querySelector('#audit').innerText")
    _check_page(officer, "audit")
    officer.navigate(live.console_url + "/")
    _check_page(officer, "home")


def test_csp_blocks_inline_script_in_the_real_browser(live: Live) -> None:
    page = live.officer
    page.navigate(live.console_url + "/login")
    header_ok = page.evaluate(
        "fetch('/console/login').then(r => r.headers.get('content-security-policy'))")
    assert "unsafe-inline" not in header_ok
    # a script injected as markup does not run
    page.evaluate("(() => { const s = document.createElement('script');"
                  " s.textContent = 'window.__pwned = true'; document.body.append(s); })()")
    assert page.evaluate("window.__pwned === undefined")
    assert re.search(r"govuk-frontend-supported", page.evaluate("document.body.className"))
