"""A small Chrome DevTools Protocol driver for Debian's headless Chromium.

No browser is downloaded and no driver package is needed: Chromium is started
with ``--remote-debugging-port=0`` and each tab is driven over its DevTools
WebSocket (aiohttp, already a FirstPoint dependency) from a background event
loop, behind a plain synchronous API for the tests: navigate, evaluate,
real key presses (``Input.dispatchKeyEvent``), typing, viewport and media
emulation, screenshots.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--no-default-browser-check", "--disable-default-apps", "--disable-extensions",
    "--disable-dev-shm-usage", "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--password-store=basic", "--use-mock-keychain", "--mute-audio",
]
#: key name -> (code, windowsVirtualKeyCode, text typed by the key)
KEYS = {
    "Tab": ("Tab", 9, ""), "Enter": ("Enter", 13, "\r"), "Escape": ("Escape", 27, ""),
    " ": ("Space", 32, " "), "ArrowDown": ("ArrowDown", 40, ""), "ArrowUp": ("ArrowUp", 38, ""),
}
SHIFT = 8


class BrowserError(AssertionError):
    """A page did not do what the test waited for (or a DevTools call failed)."""


class _Loop:
    """An asyncio loop in a daemon thread, for the synchronous API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cdp", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Page:
    """One tab, driven over its DevTools WebSocket."""

    def __init__(self, runner: _Loop, ws_url: str) -> None:
        self._runner = runner
        self._ws_url = ws_url
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.errors: list[str] = []  # JavaScript exceptions and console errors
        self._runner.run(self._connect())
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setFocusEmulationEnabled", {"enabled": True})

    async def _connect(self) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self._ws_url, max_msg_size=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.errors.append(str(details.get("exception", {}).get("description")
                                       or details.get("text")))
            elif data.get("method") == "Runtime.consoleAPICalled" and \
                    data["params"].get("type") == "error":
                self.errors.append(" ".join(str(a.get("value", a.get("description")))
                                            for a in data["params"].get("args", [])))
            elif data.get("method") == "Log.entryAdded" and \
                    data["params"]["entry"].get("level") == "error":
                self.errors.append(str(data["params"]["entry"].get("text")))

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self._ws.send_str(json.dumps({"id": self._next_id, "method": method,
                                            "params": params}))
        data = await asyncio.wait_for(future, 60)
        if "error" in data:
            raise BrowserError(f"{method}: {data['error']}")
        return data.get("result", {})

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One DevTools command; returns its result."""
        return self._runner.run(self._call(method, params or {}))

    # ------------------------------------------------------------------ pages
    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for the document to finish loading."""
        self.call("Page.navigate", {"url": url})
        time.sleep(0.2)
        self.wait_for("document.readyState === 'complete'", what=f"{url} to load")

    def reload(self) -> None:
        """Reload the page and wait for it."""
        self.call("Page.reload", {"ignoreCache": True})
        time.sleep(0.2)
        self.wait_for("document.readyState === 'complete'", what="the reload")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, what: str = "") -> Any:
        """Poll ``expression`` until truthy; its value, or BrowserError after ``timeout``."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BrowserError:
                value = None
            if value not in (None, False, 0, ""):  # JavaScript truthiness ({} is an element)
                return value
            time.sleep(0.1)
        raise BrowserError(f"timed out waiting for {what or expression} (last value {value!r})")

    # ------------------------------------------------------------------ input
    def press(self, key: str, shift: bool = False) -> None:
        """A real key press (down and up) on the focused element."""
        code, vk, text = KEYS[key]
        base = {"key": key, "code": code, "windowsVirtualKeyCode": vk,
                "nativeVirtualKeyCode": vk, "modifiers": SHIFT if shift else 0}
        down = {**base, "type": "keyDown" if text else "rawKeyDown"}
        if text:
            down.update(text=text, unmodifiedText=text)
        self.call("Input.dispatchKeyEvent", down)
        self.call("Input.dispatchKeyEvent", {**base, "type": "keyUp"})

    def type(self, text: str) -> None:
        """Type ``text`` into the focused field."""
        self.call("Input.insertText", {"text": text})

    def active(self) -> str:
        """A short description of the focused element: ``tag#id.class "text"``."""
        return str(self.evaluate(
            "(() => { const e = document.activeElement; if (!e) return '';"
            " return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +"
            " (e.className && typeof e.className === 'string' ? '.' +"
            " e.className.trim().split(/\\s+/).join('.') : '') + ' \"' +"
            " (e.innerText || e.value || '').trim().slice(0, 60) + '\"'; })()"))

    # ------------------------------------------------------------------ emulation
    def viewport(self, width: int, height: int) -> None:
        """Emulate a window of ``width`` x ``height`` CSS pixels."""
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def media(self, **features: str) -> None:
        """Emulate media features, e.g. ``prefers_reduced_motion="reduce"``."""
        self.call("Emulation.setEmulatedMedia", {"features": [
            {"name": k.replace("_", "-"), "value": v} for k, v in features.items()]})

    def screenshot(self, path: Path) -> Path:
        """A PNG of the viewport."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Close the connection."""
        async def _close() -> None:
            await self._ws.close()
            await self._session.close()
            self._reader.cancel()

        with contextlib.suppress(Exception):  # closing a dead tab is fine
            self._runner.run(_close(), timeout=10)


class Browser:
    """Headless Chromium with a temporary profile; ``page()`` gives its tabs."""

    def __init__(self, user_data_dir: Path, binary: str = CHROMIUM) -> None:
        """Start Chromium (it exits with :meth:`close`)."""
        self.binary = binary
        self.user_data_dir = user_data_dir
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-port=0",
             "--window-size=1280,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )
        self.port = self._devtools_port()
        self._runner = _Loop()
        self.pages: list[Page] = []

    def _devtools_port(self, timeout: float = 30.0) -> int:
        found: dict[str, int] = {}
        ready = threading.Event()

        def drain() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                if match:
                    found["port"] = int(match.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, name="chromium-stderr", daemon=True).start()
        if not ready.wait(timeout) or "port" not in found:
            self.proc.kill()
            raise BrowserError("Chromium did not start: " + " | ".join(self.log))
        return found["port"]

    def _json(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - localhost
            return json.loads(resp.read())

    def page(self) -> Page:
        """The first tab on the first call, then a new tab each time."""
        if not self.pages:
            target = next(t for t in self._json("/json/list") if t["type"] == "page")
        else:
            target = self._json("/json/new?about:blank", method="PUT")
        page = Page(self._runner, target["webSocketDebuggerUrl"])
        self.pages.append(page)
        return page

    def close(self) -> None:
        """Close every tab and stop Chromium."""
        for page in self.pages:
            page.close()
        self._runner.stop()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.user_data_dir, ignore_errors=True)
