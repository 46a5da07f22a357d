"""Headless Chromium driven through the DevTools protocol (a websocket; no WebDriver), for tests of the UI.

:func:`find_chromium` says why no browser can run here (the tests then skip with that reason).
:class:`Chromium` starts one with a fresh profile on a DevTools port it picks itself and stops it by its
process group; :class:`Page` navigates, types, clicks, evaluates JavaScript and takes screenshots. Every wait
is bounded in time.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*")


class BrowserError(RuntimeError):
    """The browser did not start, or a page did not do what the test waited for."""


def find_chromium() -> tuple[str | None, str]:
    """The Chromium executable, or ``None`` and why not (for a skip message)."""
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path, ""
    return None, ("no Chromium on this machine (looked for " + ", ".join(CHROMIUM_NAMES) +
                  "): `apt-get install -y chromium` (.ci/run installs it) to run the browser tests")


class Chromium:
    """One headless Chromium with its own profile under ``root``."""

    def __init__(self, executable: str, root: Path, window: tuple[int, int] = (1280, 900)) -> None:
        self.root = root
        profile = root / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        self.log = (root / "chromium.log").open("ab")
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
             "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self.connection = connect(self._browser_websocket(profile / "DevToolsActivePort"), max_size=2 ** 26,
                                      open_timeout=30)
        except BaseException:
            self.stop()
            raise
        self._ids = itertools.count(1)

    def _browser_websocket(self, port_file: Path, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"Chromium exited with {self.process.returncode}; see {self.root}/chromium.log")
            if port_file.is_file() and len(lines := port_file.read_text().split()) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.1)
        raise BrowserError(f"Chromium wrote no DevTools port within {timeout:.0f} s")

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict:
        """One DevTools command; events that arrive before its answer are dropped."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.connection.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            answer = json.loads(self.connection.recv(timeout=left))
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
        raise BrowserError(f"{method}: no answer within {timeout:.0f} s")

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


class Page:
    """One tab, through its DevTools session."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:120]!r} threw: {result['exceptionDetails'].get('text')} "
                               f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 60) -> Any:
        """Poll a JavaScript expression until it is truthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(BrowserError):
                if last := self.evaluate(expression):
                    return last
            time.sleep(0.2)
        raise BrowserError(f"{what}: not within {timeout:.0f} s (page {self.url()})")

    def goto(self, url: str, ready: str = "document.readyState === 'complete'") -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for(f"location.href !== 'about:blank' && ({ready})", f"loading {url}")

    def url(self) -> str:
        with contextlib.suppress(BrowserError):
            return str(self.evaluate("location.href"))
        return "?"

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element and type ``text`` as keyboard input (so frameworks see real input events)."""
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", f"an element {selector}")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", {"text": text})

    def click(self, selector: str, frame: str = "document") -> None:
        self.wait_for(f"!!{frame}.querySelector({json.dumps(selector)})", f"an element {selector}")
        self.evaluate(f"{frame}.querySelector({json.dumps(selector)}).click()")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000), "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
