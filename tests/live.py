"""Serving the real app on loopback and driving it with the system Chromium through Playwright."""
import os
import re
import socket
import threading
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


def free_port():
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """The Flask app served by a real WSGI server in a thread, on a free port."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


def launch(playwright):
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make system-packages` (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def screenshot(page, name, part=None):
    """The whole page, or only the element matching the selector `part`, as SCREENSHOTS/<name>.png (the
    README's pictures are copies of these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    if part is None:
        page.screenshot(path=path, full_page=True)
    else:
        page.locator(part).screenshot(path=path)


def _deliberate(text):
    """Form answers Baton gives on purpose (refused, changed meanwhile, invalid) are not page faults."""
    return re.match(r"Failed to load resource: the server responded with a status of (403|409|422)", text) is not None


def sign_in(browser, base_url, username, password):
    """A fresh browser context (its own cookies) signed in as `username`; returns its page."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and not _deliberate(message.text)
            and errors.append(message.text))
    page.console_errors = errors
    # CSP violations are reported as DOM events, not console errors: collect them too
    page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                         "e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));")
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


def wait_for_global(page, name, timeout_ms=10_000):
    """Wait until `window[name]` exists (Playwright's wait_for_function needs eval, which our CSP forbids)."""
    waited = 0
    while not page.evaluate(f"typeof window.{name} !== 'undefined'"):
        if waited >= timeout_ms:
            raise AssertionError(f"window.{name} never appeared: the page's script did not start")
        page.wait_for_timeout(50)
        waited += 50


def csp_violations(page):
    return page.evaluate("window.__csp || []")
