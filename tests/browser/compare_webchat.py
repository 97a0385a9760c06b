"""Our chat widget against rasa-webchat 1.0.1, in one headless Chromium run, on one Rasa server.

Run by hand (not a pytest test)::

    .venv/bin/python tests/browser/compare_webchat.py            # prints a Markdown table
    .venv/bin/python tests/browser/compare_webchat.py --json     # the raw numbers

It starts its own action server, Rasa server and web app on free ports (the
``make_stack`` helper of tests/conftest.py; models/clinic.tar.gz must exist),
fetches rasa-webchat 1.0.1 with ``npm pack`` into a temporary folder outside
the repository (or uses ``--webchat-js``) and serves it from there with a
tiny static server. Then, in the same browser:

* size: bytes of JavaScript and CSS each widget makes the browser load
  (responses of type script/stylesheet, plus CSS a script injects inline);
* external requests: every request to a host other than 127.0.0.1 the page
  tries to make (each is intercepted and aborted, so nothing leaves the machine);
* time from send to reply: Enter pressed in the widget's input to the bot's
  reply appearing in the DOM, measured inside the page, for the same questions,
  taking turns between the two widgets;
* a few behaviours that matter to this clinic (where the conversation is kept,
  whether markup a visitor types is shown as text).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import urlsplit

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _shared_fixtures():
    """tests/conftest.py (by path: tests/browser/conftest.py has the same module name)."""
    spec = importlib.util.spec_from_file_location("clinic_tests_conftest", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_fixtures = _shared_fixtures()
MODEL, free_port, make_stack = _fixtures.MODEL, _fixtures.free_port, _fixtures.make_stack

WEBCHAT_VERSION = "1.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
QUESTIONS = [
    "what is ketamine",
    "how long does a session take",
    "where is the clinic located",
    "how does ketamine work",
    "how many sessions will I need",
]
HTML_PAYLOAD = "<img src=x onerror=alert(1)>"
REPLY_TIMEOUT_MS = 20_000


# --- the two widgets ---------------------------------------------------------------------


class Widget:
    """How to drive one widget: its page, and the selectors of its parts."""

    name: str
    launcher: str
    input: str
    bot: str

    def __init__(self, url: str) -> None:
        self.url = url


class Ours(Widget):
    name = "clinic-chat (ours)"
    launcher = ".cc-launcher"
    input = ".cc-input"
    bot = ".cc-msg-bot"
    own_prefix = "/static/widget/"


class RasaWebchat(Widget):
    name = f"rasa-webchat {WEBCHAT_VERSION} (defaults)"
    launcher = ".rw-launcher"
    input = ".rw-new-message"
    bot = ".rw-response"
    own_prefix = "/"


class RasaWebchatNoDelay(RasaWebchat):
    # By default rasa-webchat holds each bot message back 800-3000 ms (30 ms a character)
    # to look like typing; with customMessageDelay 0 the time is transport and rendering only.
    name = f"rasa-webchat {WEBCHAT_VERSION} (`customMessageDelay` 0)"


WEBCHAT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rasa-webchat {version}</title></head>
<body>
<h1>rasa-webchat {version}</h1>
<div id="webchat"></div>
<script src="index.js"></script>
<script>
  // As its README embeds it, with the same server and first message as ours.
  WebChat.default({{
    selector: "#webchat",
    initPayload: "/greeting",
    socketUrl: {socket_url},
    socketPath: "/socket.io/",
    title: "Shasta Meadows Wellness Center",
    inputTextFieldHint: "Type your question..."{extra}
  }}, null);
</script>
</body></html>
"""


def fetch_webchat(folder: Path, given: Optional[str]) -> Path:
    """rasa-webchat's lib/index.js in ``folder`` (from ``npm pack`` unless given)."""
    target = folder / "index.js"
    if given:
        shutil.copyfile(given, target)
        return target
    if not shutil.which("npm"):
        raise SystemExit("npm is needed to fetch rasa-webchat (or pass --webchat-js)")
    subprocess.run(["npm", "pack", f"rasa-webchat@{WEBCHAT_VERSION}", "--pack-destination", str(folder)],
                   check=True, cwd=folder, stdout=subprocess.DEVNULL)
    tgz = next(folder.glob("rasa-webchat-*.tgz"))
    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/lib/index.js")
        assert member is not None
        target.write_bytes(member.read())
    tgz.unlink()
    return target


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 - keep the table readable
        pass


def serve_folder(folder: Path, port: int) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- measuring ----------------------------------------------------------------------------


PROBE_JS = """(botSelector) => {
  // Time from Enter in the input to the next bot message in the DOM.
  window.__probe = {sentAt: null, times: [], count: document.querySelectorAll(botSelector).length};
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter') window.__probe.sentAt = performance.now();
  }, true);
  new MutationObserver(() => {
    const n = document.querySelectorAll(botSelector).length;
    const p = window.__probe;
    if (n > p.count) {
      if (p.sentAt !== null) { p.times.push(performance.now() - p.sentAt); p.sentAt = null; }
      p.count = n;
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


class Run:
    """One widget's page in its own browser context, with everything it loads recorded."""

    def __init__(self, browser, widget: Widget) -> None:
        self.widget = widget
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.external: List[str] = []
        self.responses: List[dict] = []
        self.dialogs: List[str] = []
        self.context.route(lambda url: urlsplit(url).hostname not in ("127.0.0.1", None), self._abort)
        self.page: Page = self.context.new_page()
        self.page.on("response", self._on_response)
        self.page.on("dialog", self._on_dialog)
        self.works = False
        self.error = ""

    def _abort(self, route) -> None:
        self.external.append(route.request.url)
        route.abort()

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_response(self, response) -> None:
        kind = response.request.resource_type
        if kind not in ("script", "stylesheet"):
            return
        try:
            body = response.body()
        except Exception:  # aborted or redirected
            return
        self.responses.append({"url": response.url, "type": kind, "bytes": len(body),
                               "gzip": len(gzip.compress(body, 9))})

    def start(self) -> None:
        self.page.goto(self.widget.url, wait_until="load")
        self.page.wait_for_selector(self.widget.launcher, timeout=15_000)
        self.page.click(self.widget.launcher)
        self.page.wait_for_selector(self.widget.input, timeout=15_000)
        try:  # the /greeting sent when the conversation starts
            self.page.wait_for_selector(self.widget.bot, timeout=REPLY_TIMEOUT_MS)
            self.works = True
        except Exception as e:
            self.error = f"no reply to the first message within {REPLY_TIMEOUT_MS / 1000:.0f} s ({type(e).__name__})"
        self.page.wait_for_timeout(500)
        self.page.evaluate(PROBE_JS, self.widget.bot)

    def ask(self, text: str) -> Optional[float]:
        """Send ``text``; ms until the reply appeared, or None."""
        before = len(self.page.evaluate("() => window.__probe.times"))
        self.page.fill(self.widget.input, text)
        self.page.press(self.widget.input, "Enter")
        deadline = time.monotonic() + REPLY_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            times = self.page.evaluate("() => window.__probe.times")
            if len(times) > before:
                self.page.wait_for_timeout(300)  # let multi-part replies finish
                return times[before]
            self.page.wait_for_timeout(20)
        return None

    def css_in_js_bytes(self) -> int:
        """CSS a script injected as <style> elements (rasa-webchat bundles its CSS in its JS)."""
        return self.page.evaluate(
            "() => [...document.querySelectorAll('style')].reduce((n, s) => n + s.textContent.length, 0)")

    def storage(self) -> Dict[str, int]:
        return self.page.evaluate(
            "() => ({local: localStorage.length, session: sessionStorage.length})")

    def html_literal(self) -> Optional[bool]:
        """Is the visitor's markup shown as text (no <img> created, no dialog)?"""
        if not self.works:
            return None
        self.ask(HTML_PAYLOAD)
        self.page.wait_for_timeout(500)
        imgs = self.page.evaluate(
            "() => [...document.querySelectorAll('img')].filter(i => i.getAttribute('src') === 'x').length")
        shown = self.page.evaluate("(t) => document.body.innerText.includes(t)", HTML_PAYLOAD)
        return imgs == 0 and not self.dialogs and shown

    def size(self) -> Dict[str, int]:
        own = [r for r in self.responses if urlsplit(r["url"]).hostname == "127.0.0.1"
               and urlsplit(r["url"]).path.startswith(self.widget.own_prefix)
               and not urlsplit(r["url"]).path.startswith("/static/site/")]
        return {
            "vendor": sum(r["bytes"] for r in own if "/vendor/" in urlsplit(r["url"]).path),
            "js": sum(r["bytes"] for r in own if r["type"] == "script"),
            "css": sum(r["bytes"] for r in own if r["type"] == "stylesheet"),
            "gzip": sum(r["gzip"] for r in own),
            "files": len(own),
        }


def summary(times: List[Optional[float]]) -> str:
    got = [t for t in times if t is not None]
    if not got:
        return "no replies"
    missing = len(times) - len(got)
    text = f"median {statistics.median(got):.0f} ms, max {max(got):.0f} ms (n={len(got)})"
    return text + (f", {missing} without reply" if missing else "")


def kb(n: int) -> str:
    return f"{n / 1000:.1f} kB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked (default 3)")
    parser.add_argument("--webchat-js", help="rasa-webchat lib/index.js to use instead of npm pack")
    parser.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    args = parser.parse_args()
    if not MODEL.exists():
        raise SystemExit(f"{MODEL} is missing: run `make train` first")

    tmp = Path(tempfile.mkdtemp(prefix="compare-webchat-"))
    webchat_dir = tmp / "webchat"
    webchat_dir.mkdir()
    fetch_webchat(webchat_dir, args.webchat_js)
    webchat_port = free_port()
    stack = make_stack(tmp)
    # The Socket.IO channel accepts only listed site origins: add the rasa-webchat page's.
    stack.env["ALLOWED_ORIGINS"] += f",http://127.0.0.1:{webchat_port}"
    (webchat_dir / "index.html").write_text(WEBCHAT_PAGE.format(
        version=WEBCHAT_VERSION, socket_url=json.dumps(stack.rasa_url), extra=""))
    (webchat_dir / "nodelay.html").write_text(WEBCHAT_PAGE.format(
        version=WEBCHAT_VERSION, socket_url=json.dumps(stack.rasa_url),
        extra=",\n    customMessageDelay: function () { return 0; }"))
    static = serve_folder(webchat_dir, webchat_port)

    results = {}
    try:
        print("Starting the action server, Rasa and the web app...", file=sys.stderr)
        stack.start_actions()
        stack.start_rasa()
        stack.start_web()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            runs = [Run(browser, Ours(stack.web_url + "/")),
                    Run(browser, RasaWebchat(f"http://127.0.0.1:{webchat_port}/index.html")),
                    Run(browser, RasaWebchatNoDelay(f"http://127.0.0.1:{webchat_port}/nodelay.html"))]
            for run in runs:
                run.start()
            times: Dict[str, List[Optional[float]]] = {r.widget.name: [] for r in runs}
            for _ in range(args.rounds):
                for question in QUESTIONS:
                    for run in runs:  # taking turns: same questions, same server, same moment
                        if run.works:
                            times[run.widget.name].append(run.ask(question))
            for run in runs:
                size = run.size()
                results[run.widget.name] = {
                    "talks_to_this_rasa": run.works,
                    "error": run.error,
                    "js_bytes": size["js"],
                    "css_bytes": size["css"],
                    "css_in_js_bytes": run.css_in_js_bytes(),
                    "vendor_bytes": size["vendor"],
                    "gzip_bytes": size["gzip"],
                    "files": size["files"],
                    "external_requests": sorted(set(run.external)),
                    "external_hosts": sorted({urlsplit(u).hostname for u in run.external}),
                    "reply_ms": times[run.widget.name],
                    "reply_summary": summary(times[run.widget.name]) if run.works else "n/a",
                    "storage": run.storage(),
                    "html_shown_as_text": run.html_literal(),
                }
            browser.close()
    finally:
        static.shutdown()
        stack.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(table(results))


def table(results: Dict[str, dict]) -> str:
    names = list(results)
    rows = [
        ("Talks to this Rasa 3.6 (Socket.IO channel)",
         lambda r: "yes" if r["talks_to_this_rasa"] else f"**no**: {r['error']}"),
        ("JS + CSS the browser loads", lambda r: f"**{kb(r['js_bytes'] + r['css_bytes'])}** "
         f"({r['files']} file{'s' if r['files'] != 1 else ''}; {kb(r['gzip_bytes'])} gzipped)"),
        ("of which", lambda r: (
            f"widget {kb(r['js_bytes'] + r['css_bytes'] - r['vendor_bytes'])} "
            f"(JS {kb(r['js_bytes'] - r['vendor_bytes'])}, CSS {kb(r['css_bytes'])}) "
            f"+ vendored Socket.IO client {kb(r['vendor_bytes'])}") if r["vendor_bytes"] else (
            f"one JS bundle (React, Redux, Socket.IO client 3...); it injects "
            f"{kb(r['css_in_js_bytes'])} of CSS as `<style>`")),
        ("Requests to other hosts (aborted)",
         lambda r: "none" if not r["external_requests"] else
         f"{len(r['external_requests'])}: " + ", ".join(f"`{h}`" for h in r["external_hosts"])),
        ("Send → reply (Enter to reply in the DOM)", lambda r: r["reply_summary"]),
        ("Conversation kept in",
         lambda r: "sessionStorage (gone when the browser session ends)" if r["storage"]["session"] and not r["storage"]["local"]
         else "localStorage (kept after the browser is closed)" if r["storage"]["local"]
         else "nowhere"),
        ("Visitor's `<img src=x onerror=alert(1)>` shown as text",
         lambda r: "n/a" if r["html_shown_as_text"] is None else "yes" if r["html_shown_as_text"] else "**no**"),
    ]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
