#!/usr/bin/env python3
"""Check the built book in headless Chromium, as a reader's browser would see it.

    python scripts/check_book.py [--pages book/index.html book/memnet.html ...]

Serves _build/html on 127.0.0.1 (http.server in a thread), opens each page in Debian's
headless Chromium over the Chrome DevTools Protocol (package ``websocket-client``),
saves a screenshot of each page to _build/screenshots/, and fails (exit 1) if a page

* requests anything from an outside host (every request is recorded; only
  127.0.0.1 / localhost / [::1] and data:, blob:, about: URLs are allowed; the
  browser is also told to resolve no other host name, so nothing can leak),
* gets an HTTP error for one of its own files, or throws a JavaScript exception,
* shows raw TeX (``$$``, ``\\(``, ``\\frac``-style commands in the visible text outside
  code blocks), or, where it has math, MathJax did not typeset it
  (no ``mjx-container``) or reported a TeX error,
* holds widgets (``application/vnd.jupyter.widget-view+json``) that did not render,
  or whose rendering shows an error.

Before the browser runs, a static pass over every HTML file in the output checks that
no page loads a script, style, image or frame from an outside host and that every
local link target (file and #anchor) exists.

Pages that need math or widgets are detected from their HTML; --math-pages and
--widget-pages add pages that must have them. Exit status 0 means every check passed.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = [
    "book/index.html",
    "book/memnet.html",
    "book/protocol.html",
    "results/memnet/chapter.html",
    "results/explorer/explorer.html",
]
DEFAULT_MATH_PAGES = ["book/protocol.html"]
DEFAULT_WIDGET_PAGES = ["results/explorer/explorer.html"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
INERT_SCHEMES = {"data", "blob", "about", "javascript", "mailto"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1280,900",
    # Belt and braces: no host name other than localhost resolves, so even a
    # request the checks would flag cannot reach the network.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
]


def is_outside(url: str) -> bool:
    """True when loading ``url`` would contact a host other than this machine."""
    parts = urlsplit(url)
    if parts.scheme in INERT_SCHEMES or not parts.scheme:
        return False
    host = (parts.hostname or "").lower()
    return host not in LOCAL_HOSTS


# ---------------------------------------------------------------------------
# Static pass over the HTML output
# ---------------------------------------------------------------------------

# (tag, attribute) pairs whose URL the browser fetches when the page is shown.
FETCHED = {
    ("script", "src"),
    ("img", "src"),
    ("iframe", "src"),
    ("embed", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("track", "src"),
    ("input", "src"),
    ("object", "data"),
    ("video", "poster"),
    ("image", "href"),
}
FETCHED_LINK_RELS = {
    "stylesheet",
    "preload",
    "modulepreload",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "manifest",
    "prefetch",
    "dns-prefetch",
    "preconnect",
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for attr in ("src", "href", "data", "poster"):
            if attr in a and (tag, attr) in FETCHED:
                self.fetched.append(a[attr])
        if tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & FETCHED_LINK_RELS:
                self.fetched.append(a["href"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("style"):
            self.fetched += [m.group(1) or m.group(2) for m in CSS_URL.finditer(a["style"])]


def static_check(html_dir: Path) -> list[str]:
    """Outside-host loads and broken local links/anchors in every page and CSS file."""
    problems: list[str] = []
    parsed: dict[Path, _Collector] = {}
    pages = sorted(p for p in html_dir.rglob("*.html") if "_sources" not in p.parts)
    for page in pages:
        c = _Collector()
        c.feed(page.read_text(encoding="utf-8", errors="replace"))
        parsed[page.resolve()] = c
    for css in sorted(html_dir.rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for m in CSS_URL.finditer(text):
            url = m.group(1) or m.group(2)
            if is_outside(url):
                problems.append(f"{css.relative_to(html_dir)}: CSS loads outside URL {url}")
    for page, c in parsed.items():
        rel = page.relative_to(html_dir.resolve())
        for url in c.fetched:
            if is_outside(url):
                problems.append(f"{rel}: loads outside URL {url}")
        for href in c.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue  # external navigation links are allowed (nothing is loaded)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{rel}: broken link {href}")
                continue
            frag = unquote(parts.fragment)
            if frag and target.suffix == ".html" and target in parsed:
                if frag not in parsed[target].ids:
                    problems.append(f"{rel}: link {href} points to a missing anchor")
    return problems


# ---------------------------------------------------------------------------
# Local web server
# ---------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(html_dir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# ---------------------------------------------------------------------------
# Chrome DevTools Protocol
# ---------------------------------------------------------------------------


class Browser:
    """Headless Chromium driven over one CDP websocket (flattened target sessions)."""

    def __init__(self, chromium: str, timeout: float) -> None:
        import websocket  # websocket-client

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="check_book_chromium_")
        self.proc = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ws_url = self._devtools_url()
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + 30
        lines = []
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            lines.append(line)
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                # Keep draining stderr so Chromium never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return m.group(1)
        self.close()
        raise RuntimeError("Chromium did not start:\n" + "".join(lines[-20:]))

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        msg: dict = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            msg = self._recv(deadline)
            if msg is None:
                break
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
        raise TimeoutError(f"no reply to {method}")

    def _recv(self, deadline: float) -> dict | None:
        import websocket

        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self._recv(deadline)
            if msg is not None:
                self.events.append(msg)

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                try:
                    self.send("Browser.close", timeout=5)
                except Exception:
                    pass
                self.ws.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


# JavaScript run in the page once it has loaded.
STATE_JS = r"""
(() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, textarea, .highlight')
       .forEach(e => e.remove());
  const views = document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]').length;
  return {
    text: clone.textContent,
    title: document.title,
    mathSource: document.querySelectorAll('.math, .MathJax_Preview, .tex2jax_process').length,
    mjx: document.querySelectorAll('mjx-container').length,
    mjxErrors: document.querySelectorAll('mjx-merror').length,
    widgetViews: views,
    widgets: document.querySelectorAll('.jupyter-widgets').length,
    sliders: document.querySelectorAll(
      '.widget-slider, .jupyter-widget-slider, .widget-dropdown, .jupyter-widget-dropdown'
    ).length,
    widgetErrors: document.querySelectorAll('.jupyter-widgets-error-widget, .widget-error').length
                  + (/Error displaying widget/.test(document.body.innerText) ? 1 : 0),
  };
})()
"""
RAW_TEX = re.compile(
    r"\$\$|\\\(|\\\)|\\\[|\\\]|\\[A-Za-z]+\s*[{_^]"
    r"|\\(?:log|frac|mathrm|sum|left|right)\b"
)


def check_page(
    browser: Browser,
    base: str,
    page: str,
    shots: Path,
    need_math: bool,
    need_widgets: bool,
    settle: float,
) -> list[str]:
    problems: list[str] = []
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Page", "Network", "Runtime", "Log"):
        browser.send(f"{domain}.enable", session=session)
    browser.events.clear()
    url = urljoin(base, page)
    browser.send("Page.navigate", {"url": url}, session=session)

    def mine(kind: str) -> list[dict]:
        return [
            e for e in browser.events if e.get("sessionId") == session and e.get("method") == kind
        ]

    deadline = time.monotonic() + browser.timeout
    while not mine("Page.loadEventFired") and time.monotonic() < deadline:
        browser.pump(0.2)
    if not mine("Page.loadEventFired"):
        problems.append("the page did not finish loading")

    def state() -> dict:
        r = browser.send(
            "Runtime.evaluate", {"expression": STATE_JS, "returnByValue": True}, session=session
        )
        return r["result"]["value"]

    # Wait until math is typeset / widgets are rendered (or time runs out), then let
    # the network settle so that late requests are recorded too.
    s = state()
    has_math = need_math or s["mathSource"] > 0
    if has_math:
        # MathJax 3 resolves startup.promise once the initial typesetting is done.
        remaining = max(1.0, deadline - time.monotonic())
        try:
            browser.send(
                "Runtime.evaluate",
                {
                    "expression": "(async () => { for (let i = 0; i < 200 && !(window.MathJax"
                    " && MathJax.startup && MathJax.startup.promise); i++)"
                    " await new Promise(r => setTimeout(r, 50));"
                    " if (window.MathJax && MathJax.startup)"
                    " await MathJax.startup.promise; return true; })()",
                    "awaitPromise": True,
                    "returnByValue": True,
                },
                session=session,
                timeout=remaining,
            )
        except TimeoutError:
            problems.append("MathJax did not finish typesetting in time")
        s = state()
    has_widgets = need_widgets or s["widgetViews"] > 0
    while time.monotonic() < deadline:
        math_done = not has_math or s["mjx"] > 0
        widgets_done = not has_widgets or s["widgets"] > 0 or s["widgetErrors"] > 0
        if math_done and widgets_done:
            break
        browser.pump(0.25)
        s = state()
    browser.pump(settle)
    s = state()

    # Screenshot of the whole page (height capped).
    metrics = browser.send("Page.getLayoutMetrics", session=session)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    height = min(int(size["height"]), 4000)
    shot = browser.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
        },
        session=session,
    )
    out = shots / (page.replace("/", "__").removesuffix(".html") + ".png")
    out.write_bytes(base64.b64decode(shot["data"]))

    # Network: every request, and HTTP errors for local files.
    sent = mine("Network.requestWillBeSent")
    requested = [e["params"]["request"]["url"] for e in sent]
    url_of = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in sent}
    for req_url in sorted(set(requested)):
        if is_outside(req_url):
            problems.append(f"requested an outside host: {req_url}")
    for e in mine("Network.responseReceived"):
        resp = e["params"]["response"]
        if resp.get("status", 0) >= 400 and not resp["url"].endswith("/favicon.ico"):
            problems.append(f"HTTP {resp['status']} for {resp['url']}")
    for e in mine("Network.loadingFailed"):
        p = e["params"]
        if not p.get("canceled"):
            failed = url_of.get(p.get("requestId"), p.get("requestId"))
            if not is_outside(str(failed)):  # outside requests are reported above
                problems.append(f"request failed ({p.get('errorText')}): {failed}")
    # JavaScript errors.
    for e in mine("Runtime.exceptionThrown"):
        d = e["params"]["exceptionDetails"]
        desc = (d.get("exception") or {}).get("description") or d.get("text")
        problems.append(f"JavaScript exception: {str(desc).splitlines()[0]}")
    for e in mine("Runtime.consoleAPICalled"):
        if e["params"]["type"] == "error":
            args = " ".join(
                str(a.get("value", a.get("description", ""))) for a in e["params"]["args"]
            )
            problems.append(f"console.error: {args[:300]}")

    # Raw TeX visible in the text.
    for m in list(RAW_TEX.finditer(s["text"]))[:5]:
        ctx = s["text"][max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
        problems.append(f"raw TeX visible: ...{ctx}...")
    if has_math:
        if s["mjx"] == 0:
            problems.append("the page has math but MathJax typeset none (no mjx-container)")
        if s["mjxErrors"]:
            problems.append(f"MathJax reported {s['mjxErrors']} TeX error(s)")
    if has_widgets:
        if s["widgets"] == 0:
            problems.append("the page holds widgets but none rendered (no .jupyter-widgets)")
        if s["widgetErrors"]:
            problems.append("a widget rendered an error")
        if page in DEFAULT_WIDGET_PAGES and s["sliders"] == 0:
            problems.append("the widget check page shows no slider or dropdown control")

    print(
        f"  {page}: {len(set(requested))} requests, math={s['mjx']} mjx-container, "
        f"widgets={s['widgets']} rendered / {s['widgetViews']} views -> {out}"
    )
    browser.send("Target.closeTarget", {"targetId": target})
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html-dir", type=Path, default=ROOT / "_build" / "html")
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT / "_build" / "screenshots",
        help="folder for the screenshots (default: _build/screenshots)",
    )
    ap.add_argument(
        "--pages",
        nargs="+",
        default=DEFAULT_PAGES,
        help="pages to open, relative to --html-dir (default: %(default)s)",
    )
    ap.add_argument(
        "--math-pages",
        nargs="*",
        default=DEFAULT_MATH_PAGES,
        help="pages that must show typeset math (also detected from the HTML)",
    )
    ap.add_argument(
        "--widget-pages",
        nargs="*",
        default=DEFAULT_WIDGET_PAGES,
        help="pages that must render widgets (also detected from the HTML)",
    )
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per page")
    ap.add_argument(
        "--settle",
        type=float,
        default=1.5,
        help="seconds to keep recording requests after a page is ready",
    )
    args = ap.parse_args(argv)

    html_dir = args.html_dir.resolve()
    if not (html_dir / "index.html").exists():
        print(f"check_book: no book at {html_dir}; build it first (make book)", file=sys.stderr)
        return 2
    pages = list(dict.fromkeys([*args.pages, *args.math_pages, *args.widget_pages]))
    missing = [p for p in pages if not (html_dir / p).exists()]
    if missing:
        print(f"check_book: pages not in the build: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not shutil.which(args.chromium) and not Path(args.chromium).exists():
        print(f"check_book: {args.chromium} not found (apt-get install chromium)", file=sys.stderr)
        return 2

    failures: dict[str, list[str]] = {}
    static = static_check(html_dir)
    if static:
        failures["static check of all pages"] = static
    print(
        f"check_book: static check of {sum(1 for _ in html_dir.rglob('*.html'))} "
        f"HTML files: {'FAILED' if static else 'ok'}"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    server, base = serve(html_dir)
    browser = Browser(args.chromium, args.timeout)
    print(f"check_book: serving {html_dir} at {base}")
    try:
        for page in pages:
            problems = check_page(
                browser,
                base,
                page,
                args.out,
                need_math=page in args.math_pages,
                need_widgets=page in args.widget_pages,
                settle=args.settle,
            )
            if problems:
                failures[page] = problems
    finally:
        browser.close()
        server.shutdown()

    if failures:
        print("\ncheck_book: FAILED", file=sys.stderr)
        for where, problems in failures.items():
            print(f"- {where}:", file=sys.stderr)
            for p in problems:
                print(f"    {p}", file=sys.stderr)
        return 1
    print(f"check_book: all checks passed ({len(pages)} pages); screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
