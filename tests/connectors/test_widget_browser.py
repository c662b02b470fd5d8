"""The web widget in real headless Chromium (Debian's), on the demo council page.

One browser for the module, driven only with the keyboard: a conversation to
an answer, a rating and a handoff reference; a reload and a new tab keep the
history; Escape closes and returns focus; an axe-core scan (vendored from the
npm registry by scripts/install.sh) finds no serious or critical violations;
reflow at 320 px; reduced motion; the "cannot reach the assistant" message.
Screenshots at 320 px and 1280 px and the axe results go to results/widget/
(git-ignored).

Without Chromium or the vendored files these tests skip with a message, and
fail when FIRSTPOINT_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firstpoint.settings import PROJECT_ROOT
from tests.connectors.conftest import ChannelStack, free_port
from tests.services import service_missing

pytestmark = pytest.mark.rasa_server

AXE = PROJECT_ROOT / "connectors" / "web" / "vendor" / "axe.min.js"
RESULTS = PROJECT_ROOT / "results" / "widget"
RESIDENT_QUESTION = "whats the phone number for the council"
HANDOFF_OPENING = "I need to speak to my social worker about my case"
HANDOFF_ANSWERS = ("skip", "skip", "no contact", "yes")

BOT_COUNT = "document.querySelectorAll('.fpw-msg--bot').length"
IDLE = "document.querySelector('.fpw-typing').hidden"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (one per module)."""
    from tests.connectors.browser import CHROMIUM, Browser

    if not Path(CHROMIUM).exists():
        service_missing("chromium", f"{CHROMIUM} is missing; scripts/install.sh installs it")
    if not AXE.exists():
        service_missing("axe-core", f"{AXE} is missing; scripts/install.sh vendors it")
    running = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def page(browser: Any, channel_stack: ChannelStack) -> Iterator[Any]:
    """The first tab, on the demo page, widget loaded."""
    tab = browser.page()
    tab.viewport(1280, 900)
    tab.navigate(channel_stack.stack.web_url + "/")
    tab.wait_for("document.querySelector('.fpw-launcher')", what="the launcher")
    yield tab


def _tab_to(page: Any, selector: str, shift: bool = False, limit: int = 40) -> int:
    """Press Tab (or Shift+Tab) until ``selector`` has focus; returns the number of presses."""
    for presses in range(1, limit + 1):
        page.press("Tab", shift=shift)
        if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return presses
    raise AssertionError(f"{selector} never got focus; last: {page.active()}")


def _send_by_keyboard(page: Any, text: str) -> None:
    """Type into the focused message box and press Enter; wait for the whole reply."""
    assert page.evaluate("document.activeElement.id") == "fpw-input", page.active()
    before = page.evaluate(BOT_COUNT)
    page.type(text)
    page.press("Enter")
    page.wait_for(f"{BOT_COUNT} > {before} && {IDLE}", what=f"a reply to {text!r}")


def _texts(page: Any, selector: str) -> list[str]:
    return page.evaluate(
        f"[...document.querySelectorAll({selector!r})].map(e => e.innerText.trim())")


def test_keyboard_only_conversation_to_a_handoff_reference(
        page: Any, channel_stack: ChannelStack) -> None:
    p = page
    launcher = ".fpw-launcher"
    _tab_to(p, launcher)
    name = p.evaluate("document.querySelector('.fpw-launcher').innerText + ' ' + "
                      "document.querySelector('.fpw-launcher').textContent")
    assert "Ask FirstPoint" in name
    assert p.evaluate("document.querySelector('.fpw-launcher').getAttribute('aria-expanded')") \
        == "false"
    p.press("Enter")
    p.wait_for("!document.querySelector('#fpw-panel').hidden", what="the panel to open")
    assert p.evaluate("document.activeElement.id") == "fpw-input"
    # the privacy notice is there before the first message
    assert p.evaluate("document.querySelector('#fpw-privacy').offsetHeight > 0")
    assert "Before you start" in _texts(p, "#fpw-privacy")[0]
    assert p.evaluate("document.querySelectorAll('.fpw-msg').length") == 0
    p.wait_for("document.cookie.includes('fpw_session=')", what="the session cookie")

    # an answer, rated with the keyboard through the quick replies
    _send_by_keyboard(p, RESIDENT_QUESTION)
    assert any("01632 960000" in t for t in _texts(p, ".fpw-msg--bot"))
    links = p.evaluate("[...document.querySelectorAll('.fpw-msg--bot a')].map(a => a.href)")
    assert "tel:01632960000" in links
    assert _texts(p, ".fpw-replies:last-of-type button")[-2:] == ["Yes, it helped", "No"]
    for presses in (1, 2):  # Shift+Tab from the message box: "No", then "Yes, it helped"
        p.press("Tab", shift=True)
        assert p.evaluate("document.activeElement.innerText") == ["No", "Yes, it helped"][
            presses - 1], p.active()
    before = p.evaluate(BOT_COUNT)
    p.press("Enter")
    p.wait_for(f"{BOT_COUNT} > {before} && {IDLE}", what="the rating reply")
    assert _texts(p, ".fpw-msg--user .fpw-msg__text")[-1] == "Yes, it helped"
    assert p.evaluate("document.activeElement.id") == "fpw-input"
    assert not p.evaluate("document.querySelector('.fpw-replies')")

    # a handoff: the reference is shown and can be copied with the keyboard
    _send_by_keyboard(p, HANDOFF_OPENING)
    for text in HANDOFF_ANSWERS:
        _send_by_keyboard(p, text)
    reference = p.wait_for("document.querySelector('.fpw-reference__value')?.innerText",
                           what="the handoff reference")
    assert re.fullmatch(r"FP-[2-9A-HJ-NP-Z]{6}", reference)
    assert reference in _texts(p, ".fpw-msg--bot")[-1]
    _tab_to(p, ".fpw-reference button", shift=True)
    p.press("Enter")
    assert p.wait_for("document.querySelector('.fpw-reference__status').innerText",
                      what="the copy status")
    # announced through the polite live region
    live = p.evaluate("document.querySelector('[data-fpw-live]').innerText")
    assert "FirstPoint:" in live
    assert p.evaluate("document.querySelector('[data-fpw-live]').getAttribute('aria-live')") \
        == "polite"
    assert p.errors == []

    session = p.evaluate("document.cookie.match(/fpw_session=([0-9a-f]{32})/)[1]")
    row = channel_stack.contacts(f"web-{session}", outcome="handed_off")[-1]
    assert (row["channel"], row["audience"]) == ("web", "resident")
    assert (row["outcome"], row["handoff_reference"], row["rating"]) == (
        "handed_off", reference, "helpful")


def test_a_reload_and_a_new_tab_keep_the_history(page: Any, browser: Any,
                                                 channel_stack: ChannelStack) -> None:
    p = page
    before = _texts(p, ".fpw-msg .fpw-msg__text")
    assert len(before) >= 8
    p.reload()
    p.wait_for(f"document.querySelectorAll('.fpw-msg').length >= {len(before)}",
               what="the restored history")
    assert _texts(p, ".fpw-msg .fpw-msg__text") == before
    assert not p.evaluate("document.querySelector('#fpw-panel').hidden")
    assert p.evaluate("document.querySelector('.fpw-reference__value').innerText")

    tab = browser.page()
    try:
        tab.navigate(channel_stack.stack.web_url + "/privacy")
        tab.wait_for("window.FirstPointWidget", what="the widget in the new tab")
        tab.evaluate("window.FirstPointWidget.open()")
        tab.wait_for(f"document.querySelectorAll('.fpw-msg').length >= {len(before)}",
                     what="the history in the new tab")
        assert _texts(tab, ".fpw-msg .fpw-msg__text") == before
        # a reply asked for in the new tab also reaches the first tab (same session room)
        count = p.evaluate(BOT_COUNT)
        tab.evaluate("document.querySelector('#fpw-input').focus()")
        _send_by_keyboard(tab, "thank you")
        p.wait_for(f"{BOT_COUNT} > {count}", what="the reply in the first tab")
        assert "thank you" in _texts(p, ".fpw-msg--user .fpw-msg__text")
    finally:
        tab.close()


def test_escape_closes_and_returns_focus_to_the_launcher(page: Any) -> None:
    p = page
    p.evaluate("document.querySelector('#fpw-input').focus()")
    p.press("Escape")
    assert p.evaluate("document.querySelector('#fpw-panel').hidden")
    assert p.evaluate("document.activeElement.classList.contains('fpw-launcher')")
    assert p.evaluate("document.querySelector('.fpw-launcher').getAttribute('aria-expanded')") \
        == "false"
    p.press(" ")
    p.wait_for("!document.querySelector('#fpw-panel').hidden", what="the panel to reopen")
    assert p.evaluate("document.activeElement.id") == "fpw-input"
    # tab order inside the panel: header controls, the conversation, then the message box
    order = []
    p.evaluate("document.querySelector('.fpw-header button').focus()")
    for _ in range(30):
        order.append(p.active())
        if p.evaluate("document.activeElement.classList.contains('fpw-send')"):
            break
        p.press("Tab")
    assert order[0].startswith("button") and "Start again" in order[0]
    assert "Close" in order[1]
    assert any(o.startswith("textarea#fpw-input") for o in order)
    assert "Send" in order[-1]
    # the GOV.UK focus style: yellow, with a dark edge
    background = p.evaluate("getComputedStyle(document.activeElement).backgroundColor")
    assert background == "rgb(255, 221, 0)"


def test_empty_message_gets_an_error_not_sent(page: Any) -> None:
    p = page
    p.evaluate("document.querySelector('#fpw-input').focus()")
    count = p.evaluate("document.querySelectorAll('.fpw-msg').length")
    p.press("Enter")
    assert not p.evaluate("document.querySelector('#fpw-input-error').hidden")
    assert p.evaluate("document.querySelector('#fpw-input').getAttribute('aria-invalid')") \
        == "true"
    assert "Error:" in p.evaluate("document.querySelector('#fpw-input-error').textContent")
    assert p.evaluate("document.querySelectorAll('.fpw-msg').length") == count
    p.type("a")
    assert p.evaluate("document.querySelector('#fpw-input-error').hidden")
    p.evaluate("document.querySelector('#fpw-input').value = ''")


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


def test_axe_finds_no_serious_or_critical_violations(page: Any) -> None:
    p = page
    if p.evaluate("document.querySelector('#fpw-panel').hidden"):
        p.evaluate("window.FirstPointWidget.open()")
    assert _axe(p, "1280-open") == []
    p.viewport(320, 640)
    try:
        assert _axe(p, "320-open") == []
    finally:
        p.viewport(1280, 900)


def test_reflow_at_320_px_and_screenshots(page: Any) -> None:
    p = page
    if p.evaluate("document.querySelector('#fpw-panel').hidden"):
        p.evaluate("window.FirstPointWidget.open()")
    p.screenshot(RESULTS / "widget-1280.png")
    for width, height in ((320, 640), (320, 256)):  # 256: 1280x1024 at 400 % zoom
        p.viewport(width, height)
        overflow = p.evaluate(
            "(() => { const panel = document.querySelector('#fpw-panel');"
            " return {page: document.documentElement.scrollWidth, panel: panel.scrollWidth,"
            " panelWidth: panel.clientWidth, inner: window.innerWidth,"
            " send: document.querySelector('.fpw-send').getBoundingClientRect().right}; })()")
        assert overflow["page"] <= overflow["inner"], overflow
        assert overflow["panel"] <= overflow["panelWidth"], overflow
        assert overflow["send"] <= width, overflow
        p.screenshot(RESULTS / f"widget-{width}x{height}.png")
    p.viewport(1280, 900)
    assert (RESULTS / "widget-320x640.png").stat().st_size > 1000


def test_reduced_motion_stops_the_typing_animation(page: Any) -> None:
    p = page
    dot = "getComputedStyle(document.querySelector('.fpw-typing__dots span')).animationName"
    assert p.evaluate(dot) == "fpw-blink"
    p.media(prefers_reduced_motion="reduce")
    try:
        assert p.evaluate(dot) == "none"
    finally:
        p.media(prefers_reduced_motion="no-preference")


def test_start_again_begins_a_new_conversation(page: Any) -> None:
    p = page
    if p.evaluate("document.querySelector('#fpw-panel').hidden"):
        p.evaluate("window.FirstPointWidget.open()")
    old = p.evaluate("document.cookie.match(/fpw_session=([0-9a-f]{32})/)[1]")
    p.evaluate("document.querySelector('.fpw-header button').focus()")
    p.press("Enter")
    new = p.wait_for("(document.cookie.match(/fpw_session=([0-9a-f]{32})/) || [])[1]",
                     what="a new session cookie")
    p.wait_for(f"!document.cookie.includes('{old}')", what="the old session to go")
    assert new != old
    assert p.evaluate("document.querySelectorAll('.fpw-msg').length") == 0
    assert p.evaluate("document.activeElement.id") == "fpw-input"
    assert "new conversation" in p.evaluate(
        "document.querySelector('[data-fpw-live]').innerText")


def test_a_clear_message_when_the_server_cannot_be_reached(browser: Any,
                                                          channel_stack: ChannelStack) -> None:
    tab = browser.page()
    try:
        dead = f"http://127.0.0.1:{free_port()}"
        tab.navigate(f"{channel_stack.stack.web_url}/?server={dead}")
        tab.wait_for("window.FirstPointWidget", what="the widget")
        tab.evaluate("window.FirstPointWidget.open()")
        tab.type("hello")
        tab.press("Enter")
        alert = tab.wait_for(
            "!document.querySelector('.fpw-error').hidden && "
            "document.querySelector('.fpw-error').innerText", what="the connection error")
        assert "can't connect" in alert and "01632 960000" in alert
        assert tab.evaluate("document.querySelector('.fpw-error').getAttribute('role')") == "alert"
        assert "Not sent yet" in tab.evaluate("document.querySelector('.fpw-msg--user').innerText")
        _tab_to(tab, ".fpw-error button")
        assert tab.evaluate("document.activeElement.innerText") == "Try again"
        tab.press("Enter")
        assert tab.evaluate("document.activeElement.id") == "fpw-input"
        tab.wait_for("!document.querySelector('.fpw-error').hidden", what="the error again")
    finally:
        tab.close()
