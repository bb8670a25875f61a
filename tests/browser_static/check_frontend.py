"""Throwaway browser check of the built front-end bundles (no Flask needed).

Run after `cd modeller/frontend && node build.mjs`:

    python tests/browser_static/check_frontend.py        # exit code 0 = all good

Serves a temp folder (static pages + modeller/static/build + MIWG samples) from
a thread with a strict CSP, drives the system Chromium with Playwright and
checks the modeller and viewer page contracts. Screenshots go to /tmp/frontend-*.png.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import threading
import traceback
import xml.etree.ElementTree as ET
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "modeller" / "static" / "build"
MIWG = Path("/work/shared/conformance/miwg")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")

TASK1 = "_5a972b87-735d-454a-b31c-f52fb3afc5c7"      # A.2.0 "Task 1"
TASK2 = "_4f7d62d7-f0e6-46bc-be00-69e02da38f65"      # A.2.0 "Task 2"
START = "_6b5db6a9-037a-49ad-9201-09201e2aaa97"      # A.2.0 start event
FLOW1 = "_b50f530c-3450-4e1a-b81f-ea346dc6e1cb"      # start -> Task 1
GATEWAY_FLOW = "_fe74c141-8843-4b00-a704-5e5e13be53b0"
TASK3 = "_e6eb725a-34bc-45c7-aed0-9f9596cd7bee"

ERRORS_422 = {"errors": [
    {"message": "Task 1 needs a candidate group", "element_id": TASK1, "line": 7},
    {"message": "Process is not executable", "element_id": None, "line": 3},
    {"message": "Unknown element", "element_id": "does-not-exist", "line": None},
]}

STATE = {
    "completed": [START, TASK1],
    "active": [{"element_id": TASK2, "roles": ["designer", "reviewer"], "assignee": None}],
    "flows": [FLOW1, GATEWAY_FLOW],
    "failed": [TASK3],
}

requests_seen: list[dict] = []


def page_html(title: str, bundle: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/build/{bundle}.css">
<script src="/static/build/{bundle}.js" defer></script>
</head><body>
<h1>{title}</h1>
{body}
</body></html>
"""


def modeller_page(xml_url: str, save_url: str, can_save: str = "true", name: str = "Sample") -> str:
    return page_html("Modeller", "modeller", f"""
<div id="baton-modeller" data-xml-url="{xml_url}" data-save-url="{save_url}" data-csrf-token="tok-123"
     data-can-save="{can_save}" data-name="{name}">
  <div class="baton-toolbar">
    <button id="save-button" type="button">Save</button>
    <button id="download-bpmn" type="button">Download BPMN</button>
    <button id="download-svg" type="button">Download SVG</button>
    <label>Open file <input id="open-file" type="file" accept=".bpmn,.xml"></label>
    <span id="save-status" role="status"></span>
  </div>
  <div id="canvas"></div>
  <div id="properties"></div>
  <div class="baton-problems">
    <section><h2>Lint</h2><ul id="lint-problems"></ul></section>
    <section><h2>Server</h2><ul id="server-problems"></ul></section>
  </div>
</div>""")


def webapp_modeller_page(xml_url: str) -> str:
    """The markup of web/templates/modeller/edit.html with the site stylesheet web/static/baton.css."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Web app layout</title>
<link rel="stylesheet" href="/site.css">
<link rel="stylesheet" href="/static/build/modeller.css">
<script src="/static/build/modeller.js" defer></script>
</head><body><main class="modeller-page">
<div id="baton-modeller" data-xml-url="{xml_url}" data-save-url="/save/ok" data-csrf-token="t"
     data-can-save="true" data-name="diagram.bpmn">
  <div class="modeller-toolbar">
    <button id="save-button" class="primary" type="button">Save &amp; deploy</button>
    <button id="download-bpmn" type="button">Download .bpmn</button>
    <button id="download-svg" type="button">Download .svg</button>
    <label class="button">Open file <input id="open-file" type="file" accept=".bpmn,.xml" hidden></label>
    <span id="save-status" role="status"></span>
  </div>
  <div class="modeller-body">
    <div id="canvas" class="modeller-canvas"></div>
    <aside id="properties" class="modeller-properties" aria-label="Properties"></aside>
  </div>
  <div class="modeller-problems">
    <section><h2>Server</h2><ul id="server-problems"></ul></section>
    <section><h2>Lint</h2><ul id="lint-problems"></ul></section>
  </div>
</div></main></body></html>
"""


def viewer_page(xml_url: str, state_url: str) -> str:
    return page_html("Instance", "viewer", f"""
<div id="baton-viewer" data-xml-url="{xml_url}" data-state-url="{state_url}">
  <div id="viewer-canvas"></div>
</div>""")


class Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _json(self, status: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/state.json"):
            return self._json(200, STATE)
        if self.path.startswith("/diagrams/"):   # where replaceState points to
            return self._json(200, {})
        return super().do_GET()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        requests_seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path == "/save/422":
            return self._json(422, ERRORS_422)
        if self.path == "/save/ok":
            return self._json(201, {"id": 42, "version": 3, "url": "/diagrams/42/edit"})
        return self._json(404, {"errors": [{"message": "no such save url", "element_id": None}]})


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # a page closed while a file was still being sent
        super().handle_error(request, client_address)


def build_site(tmp: Path) -> None:
    shutil.copytree(BUILD, tmp / "static" / "build")
    for name in ("A.2.0.bpmn", "C.1.0.bpmn"):
        shutil.copy(MIWG / name, tmp / name)
    # A.2.0 without any diagram interchange -> auto layout
    a2 = (MIWG / "A.2.0.bpmn").read_text(encoding="iso-8859-1")
    no_di = re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", a2, flags=re.S)
    assert "BPMNShape" not in no_di
    (tmp / "no-di.bpmn").write_text(no_di, encoding="iso-8859-1")
    (tmp / "favicon.ico").write_bytes(b"\x00\x00\x01\x00\x00\x00")
    (tmp / "modeller-a2.html").write_text(modeller_page("/A.2.0.bpmn", "/save/422", name="A 2.0"))
    (tmp / "modeller-c1.html").write_text(modeller_page("/C.1.0.bpmn", "/save/ok", name="C.1.0"))
    (tmp / "modeller-blank.html").write_text(modeller_page("", "/save/ok", name="New process"))
    (tmp / "modeller-readonly.html").write_text(modeller_page("/A.2.0.bpmn", "/save/ok", can_save="false"))
    site_css = ROOT / "web" / "static" / "baton.css"
    if site_css.exists():
        shutil.copy(site_css, tmp / "site.css")
        (tmp / "modeller-webapp.html").write_text(webapp_modeller_page("/C.1.0.bpmn"))
    (tmp / "viewer.html").write_text(viewer_page("/A.2.0.bpmn", "/state.json"))


STANDARD_NS = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL", "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC", "http://www.omg.org/spec/DD/20100524/DI",
    "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/XML/1998/namespace",
}


# losses that are upstream behaviour, not Baton's doing
KNOWN_LOSSES = {
    # bpmn-js Modeler's BpmnDiOrdering rebuilds the plane from imported elements on saveXML,
    # dropping the invalid <BPMNEdge id="_985753e3..."> that has no bpmnElement (and its label)
    "C.7.0.bpmn": {"@{http://www.omg.org/spec/BPMN/non-normative/color/1.0}border-color": 1,
                   "@{http://www.omg.org/spec/BPMN/non-normative/color/1.0}color": 1,
                   "@{http://www.trisotech.com/2015/triso/modeling}defaultBounds": 1,
                   "@{http://www.trisotech.com/2015/triso/modeling}labelPosition": 1},
    # moddle keeps attributes of unknown elements by local name: <triso:allowedValues
    # constraintsType=".." triso:constraintsType=".."> keeps only the unprefixed one
    "C.8.1.bpmn": {"@{http://www.trisotech.com/2015/triso/modeling}constraintsType": 2},
}


def foreign_names(data: bytes) -> Counter:
    """(namespace, local name) of every non-BPMN element and attribute."""
    counts: Counter = Counter()
    for el in ET.fromstring(data).iter():
        if el.tag.startswith("{") and el.tag[1:].split("}")[0] not in STANDARD_NS:
            counts["<" + el.tag] += 1
        for attr in el.attrib:
            if attr.startswith("{") and attr[1:].split("}")[0] not in STANDARD_NS:
                counts["@" + attr] += 1
    return counts


class Checks:
    def __init__(self):
        self.failures: list[str] = []
        self.passed = 0

    def check(self, condition, label: str) -> None:
        if condition:
            self.passed += 1
            print(f"  ok   {label}")
        else:
            self.failures.append(label)
            print(f"  FAIL {label}")


EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of 422")


def wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression (page.wait_for_function would need eval, which the CSP forbids)."""
    import time
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def open_page(context, url: str, problems: list[str]):
    page = context.new_page()
    # Chromium logs every 4xx fetch as a console error; the 422 of a rejected save is expected
    page.on("console", lambda m: m.type == "error" and not EXPECTED_CONSOLE.search(m.text)
            and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"requestfailed: {r.url}"))
    page.add_init_script("""
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', e =>
        window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
    """)
    page.goto(url)
    return page


def run(base: str, c: Checks) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)

        # ---- modeller with A.2.0, save -> 422 ------------------------------------------------
        print("modeller A.2.0")
        problems: list[str] = []
        page = open_page(context, f"{base}/modeller-a2.html", problems)
        page.evaluate("window.batonModeller.ready")
        c.check(page.locator(f'#canvas [data-element-id="{TASK1}"]').count() == 1, "shapes render with data-element-id")
        c.check(page.locator("#properties .bio-properties-panel").count() == 1, "properties panel renders")
        wait_until(page, "document.querySelectorAll('#lint-problems li').length > 0")
        lint_items = page.locator("#lint-problems li")
        c.check(lint_items.count() > 0, f"lint list fills ({lint_items.count()} items)")
        first = lint_items.first
        c.check(first.locator(".baton-problem-element").count() == 1 and
                first.locator(".baton-problem-rule").count() == 1 and
                first.locator(".baton-problem-message").count() == 1, "lint item has element id, rule, message")
        # a lint item that points at a shape: click selects it
        clickable = page.locator("#lint-problems li button").first
        target = clickable.locator("xpath=..").get_attribute("data-element-id")
        clickable.click()
        sel = page.evaluate("window.batonModeller.modeler.get('selection').get().map(e => e.id)")
        c.check(sel == [target], f"clicking a lint item selects its element (selected {sel}, item {target})")
        lint_button_bg = page.evaluate("getComputedStyle(document.querySelector('.bjsl-button')).backgroundColor")
        c.check(lint_button_bg not in ("rgba(0, 0, 0, 0)", "transparent"), f"lint button has a background ({lint_button_bg})")
        c.check(page.locator(".djs-minimap").count() == 1, "minimap present")
        c.check(page.locator(".bts-toggle-mode, .bts-toggle").count() >= 1, "token simulation toggle present")

        page.click("#save-button")
        result = page.evaluate("window.batonModeller.lastSave")
        c.check(result["ok"] is False and result["status"] == 422, "save returns 422 result")
        req = requests_seen[-1]
        headers = {k.lower(): v for k, v in req["headers"].items()}
        c.check(req["path"] == "/save/422", "POSTed to data-save-url")
        c.check(headers.get("content-type") == "application/xml", "Content-Type application/xml")
        c.check(headers.get("x-csrftoken") == "tok-123", "X-CSRFToken header")
        c.check(req["body"].startswith("<?xml") and TASK1 in req["body"], "body is the diagram XML")
        marker_g = page.locator(f'.djs-element.baton-server-error[data-element-id="{TASK1}"]')
        c.check(marker_g.count() == 1, "server error marker on element")
        c.check(page.locator(".baton-server-error-badge").count() == 1, "server error badge overlay")
        c.check(page.locator("#server-problems li").count() == 3, "all server errors listed")
        c.check("problem" in page.inner_text("#save-status"), f"status: {page.inner_text('#save-status')!r}")
        page.locator(f'#server-problems li[data-element-id="{TASK1}"] button').click()
        sel = page.evaluate("window.batonModeller.modeler.get('selection').get().map(e => e.id)")
        c.check(sel == [TASK1], "clicking a server problem selects the element")
        page.screenshot(path="/tmp/frontend-modeller-422.png")
        # next save clears markers (still 422, so they come back: check clear happened via count == 1)
        page.click("#save-button")
        page.evaluate("window.batonModeller.lastSave")
        c.check(page.locator(".baton-server-error-badge").count() == 1, "markers replaced, not duplicated, on next save")

        # watermark visible and not covered
        wm = page.evaluate("""(() => {
          const a = document.querySelector('#canvas .bjs-powered-by');
          const r = a.getBoundingClientRect();
          const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
          return { w: r.width, h: r.height, covered: !(hit && a.contains(hit)),
                   inView: r.right <= innerWidth && r.bottom <= innerHeight };
        })()""")
        c.check(wm["w"] > 0 and not wm["covered"] and wm["inView"], f"bpmn.io watermark visible ({wm})")

        # export downloads
        with page.expect_download() as dl:
            page.click("#download-bpmn")
        path = dl.value.path()
        c.check(dl.value.suggested_filename == "A-2.0.bpmn" and TASK1 in Path(path).read_text(), f"download .bpmn ({dl.value.suggested_filename})")
        with page.expect_download() as dl:
            page.click("#download-svg")
        c.check(dl.value.suggested_filename.endswith(".svg") and "<svg" in Path(dl.value.path()).read_text(), "download .svg")

        # open a file without DI via the file input -> auto layout
        page.set_input_files("#open-file", str(Path(TMP) / "no-di.bpmn"))
        wait_until(page, "window.batonModeller.lastImport && window.batonModeller.lastImport.autoLayout")
        c.check(page.locator(f'#canvas [data-element-id="{TASK1}"]').count() == 1, "open-file without DI: laid out and rendered")
        c.check("laid out" in page.inner_text("#save-status"), f"status after open: {page.inner_text('#save-status')!r}")
        c.check(page.locator("#server-problems li").count() == 0, "server problems cleared by opening a file")
        page.screenshot(path="/tmp/frontend-modeller-autolayout.png")

        # drag and drop C.1.0 onto the canvas
        c1 = (Path(TMP) / "C.1.0.bpmn").read_text(encoding="utf-8")
        page.evaluate("""(xml) => {
          const dt = new DataTransfer();
          dt.items.add(new File([xml], 'C.1.0.bpmn', { type: 'application/xml' }));
          const canvas = document.getElementById('canvas');
          for (const type of ['dragenter', 'dragover', 'drop']) {
            canvas.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
          }
        }""", c1)
        wait_until(page, "document.getElementById('save-status').textContent.includes('C.1.0.bpmn')")
        c.check(page.locator('#canvas [data-element-id="reviewInvoice"]').count() == 1, "drag-and-drop import works")
        c.check(not problems, f"no console/page errors on A.2.0 page {problems}")
        csp = page.evaluate("window.__csp")
        c.check(not csp, f"no CSP violations on modeller page {csp[:5]}")
        page.close()

        # ---- interactions under the strict CSP ------------------------------------------------
        print("interactions")
        problems = []
        page = open_page(context, f"{base}/modeller-a2.html", problems)
        page.evaluate("window.batonModeller.ready")
        steps = {}

        def step(name, fn):
            before = len(page.evaluate("window.__csp"))
            fn()
            page.wait_for_timeout(300)
            steps[name] = page.evaluate("window.__csp")[before:]

        task = page.locator(f'.djs-element[data-element-id="{TASK1}"]')
        step("select + context pad", lambda: task.click())
        step("replace menu", lambda: page.click('.djs-context-pad [data-action="replace"]'))
        page.keyboard.press("Escape")
        step("direct editing", lambda: (task.dblclick(), page.keyboard.type(" edited"), page.click("#canvas svg", position={"x": 5, "y": 5})))
        def align():
            page.evaluate(f"""() => {{
              const m = window.batonModeller.modeler, r = m.get('elementRegistry');
              m.get('selection').select([r.get('{TASK1}'), r.get('{TASK2}'), r.get('{TASK3}')]);
            }}""")
            page.click('.djs-context-pad [data-action="align-elements"]')
        step("align popup", align)
        page.screenshot(path="/tmp/frontend-align-popup.png")
        icon_stroke = page.evaluate("""(() => { const l = document.querySelector('.djs-popup.align-elements .djs-popup-entry-icon svg line');
             return l ? getComputedStyle(l).stroke : null; })()""")
        c.check(icon_stroke not in (None, "none"), f"align icons drawn as outlines ({icon_stroke})")
        page.keyboard.press("Escape")
        def simulate():
            page.click(".bts-toggle-mode")
            page.wait_for_timeout(200)
            page.locator(f'.bts-context-pad[data-element-id="{START}"], .djs-overlay-container [data-container-id="{START}"] .bts-context-pad').first.click()
            page.wait_for_timeout(1500)
        step("token simulation", simulate)
        page.screenshot(path="/tmp/frontend-token-simulation.png")
        page.click(".bts-toggle-mode")
        name = page.evaluate(f"window.batonModeller.modeler.get('elementRegistry').get('{TASK1}').businessObject.name")
        c.check(name == "Task 1 edited", f"direct editing changed the name ({name!r})")
        for label, violations in steps.items():
            print(f"       CSP during {label}: {sorted(set(violations)) or 'none'}")
        c.check(not problems, f"no console/page errors during interactions {problems}")
        page.close()

        # ---- modeller with C.1.0, save -> 201, extension preservation ----------------------
        print("modeller C.1.0")
        problems = []
        page = open_page(context, f"{base}/modeller-c1.html", problems)
        page.evaluate("window.batonModeller.ready")
        page.screenshot(path="/tmp/frontend-modeller-c1.png")
        page.click("#save-button")
        result = page.evaluate("window.batonModeller.lastSave")
        c.check(result["ok"] and result["body"]["version"] == 3, "save 201 result")
        c.check(page.inner_text("#save-status") == "Saved version 3", f"status {page.inner_text('#save-status')!r}")
        c.check(page.evaluate("location.pathname") == "/diagrams/42/edit", "history.replaceState to url")
        saved = requests_seen[-1]["body"]
        original = (MIWG / "C.1.0.bpmn").read_text(encoding="utf-8")
        for token in ("signavioMetaData", "w4graph:graphStyle", "w4graph:basic", "formKey", "assignee",
                      "candidateGroups", "http://activiti.org/bpmn", "http://www.signavio.com"):
            c.check(original.count(token) == saved.count(token),
                    f"preserved {token}: {original.count(token)} -> {saved.count(token)}")
        c.check(not problems, f"no console/page errors on C.1.0 page {problems}")
        (Path("/tmp") / "frontend-saved-C.1.0.bpmn").write_text(saved)
        page.close()

        # ---- every MIWG reference file: import, save, compare foreign elements/attributes -----
        print("MIWG round trip")
        problems = []
        page = open_page(context, f"{base}/modeller-blank.html", problems)
        page.evaluate("window.batonModeller.ready")
        for path in sorted(MIWG.glob("*.bpmn")):
            data = path.read_bytes()
            result = page.evaluate("""async (bytes) => {
              const m = window.batonModeller;
              const xml = new TextDecoder(/encoding="ISO-8859-1"/i.test(bytes) ? 'latin1' : 'utf-8')
                .decode(Uint8Array.from(bytes, c => c.charCodeAt(0)));
              try {
                const r = await m.openXML(xml);
                const { xml: out } = await m.modeler.saveXML({ format: true });
                return { ok: true, out, renamed: r.renamedPrefixes, autoLayout: r.autoLayout,
                         shapes: document.querySelectorAll('#canvas .djs-element.djs-shape').length };
              } catch (e) { return { ok: false, error: String(e) }; }
            }""", data.decode("latin1"))
            if not result["ok"]:
                c.check(False, f"{path.name}: {result['error']}")
                continue
            before, after = foreign_names(data), foreign_names(result["out"].encode("utf-8"))
            known = KNOWN_LOSSES.get(path.name, {})
            lost = {k: (v, after[k]) for k, v in before.items() if v - after[k] > known.get(k, 0)}
            if known:
                print(f"       {path.name}: known upstream losses {known}")
            c.check(not lost and result["shapes"] > 0,
                    f"{path.name}: {result['shapes']} shapes, {sum(before.values())} foreign names kept"
                    f"{', renamed ' + str(result['renamed']) if result['renamed'] else ''}{' LOST ' + str(lost) if lost else ''}")
        c.check(not problems, f"no console/page errors during MIWG round trip {problems}")
        page.close()

        # ---- blank modeller: camunda properties round-trip ---------------------------------
        print("modeller blank")
        problems = []
        page = open_page(context, f"{base}/modeller-blank.html", problems)
        page.evaluate("window.batonModeller.ready")
        c.check(page.locator('#canvas [data-element-id="StartEvent_1"]').count() == 1, "blank diagram has a start event")
        wait_until(page, "document.querySelectorAll('#lint-problems li').length > 0")
        c.check(page.locator("#lint-problems li").count() > 0, "lint list fills for blank diagram")
        task_id = page.evaluate("""() => {
          const m = window.batonModeller.modeler;
          const modeling = m.get('modeling'), registry = m.get('elementRegistry');
          const task = modeling.appendShape(registry.get('StartEvent_1'), { type: 'bpmn:UserTask' });
          modeling.updateProperties(task,
            { name: 'Review', 'camunda:candidateGroups': 'designer', 'camunda:assignee': 'alice', 'camunda:dueDate': '${due}' });
          m.get('selection').select(task);
          return task.id;
        }""")
        page.wait_for_timeout(200)
        groups = page.locator("#properties .bio-properties-panel-group-header-title").all_text_contents()
        c.check(any("assignment" in g.lower() for g in groups), f"properties panel shows user assignment ({groups})")
        c.check(any("form" in g.lower() for g in groups), "properties panel shows forms group")
        c.check(any("documentation" in g.lower() for g in groups), "properties panel shows documentation group")
        c.check("Unsaved changes" in page.inner_text("#save-status"), "dirty status after edit")
        page.keyboard.press("Control+s")
        wait_until(page, "document.getElementById('save-status').textContent.startsWith('Saved')")
        saved = requests_seen[-1]["body"]
        Path("/tmp/frontend-saved-blank.bpmn").write_text(saved)
        c.check('isExecutable="true"' in saved, "blank diagram is executable")
        task_xml = re.search(rf'<bpmn:userTask id="{task_id}"[^>]*>', saved)
        c.check(task_xml and all(a in task_xml.group(0) for a in
                ('name="Review"', 'camunda:candidateGroups="designer"', 'camunda:assignee="alice"'))
                and 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in saved, "camunda attributes round-trip")
        page.screenshot(path="/tmp/frontend-modeller-blank.png")
        c.check(not problems, f"no console/page errors on blank page {problems}")
        c.check(not page.evaluate("window.__csp"), "no CSP violations on blank page")
        page.close()

        # ---- the web app's own markup and layout CSS ------------------------------------------
        if (Path(TMP) / "modeller-webapp.html").exists():
            print("web app layout")
            problems = []
            page = open_page(context, f"{base}/modeller-webapp.html", problems)
            page.evaluate("window.batonModeller.ready")
            boxes = page.evaluate("""(() => Object.fromEntries(['canvas', 'properties'].map(id => {
              const r = document.getElementById(id).getBoundingClientRect();
              return [id, [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)]];
            })))()""")
            c.check(boxes["canvas"][2] > 600 and boxes["canvas"][3] > 300 and boxes["properties"][2] == 320,
                    f"web app layout: canvas and properties sized by the site CSS {boxes}")
            c.check(page.locator("#properties .bio-properties-panel").count() == 1, "web app layout: properties panel")
            c.check(page.locator("#canvas .bjs-powered-by").is_visible(), "web app layout: watermark visible")
            with page.expect_download() as dl:
                page.click("#download-bpmn")
            c.check(dl.value.suggested_filename == "diagram.bpmn", f"download name from data-name ({dl.value.suggested_filename})")
            page.screenshot(path="/tmp/frontend-webapp-layout.png")
            c.check(not problems, f"no errors with the web app layout {problems}")
            page.close()

        # ---- read-only modeller ------------------------------------------------------------
        problems = []
        page = open_page(context, f"{base}/modeller-readonly.html", problems)
        page.evaluate("window.batonModeller.ready")
        c.check(page.locator("#save-button").is_disabled(), "save disabled when data-can-save=false")
        c.check(not problems, f"no errors on read-only page {problems}")
        page.close()

        # ---- viewer ------------------------------------------------------------------------
        print("viewer")
        problems = []
        page = open_page(context, f"{base}/viewer.html", problems)
        result = page.evaluate("window.batonViewer.ready")
        c.check(result["missing"] == [], f"viewer: all state ids found ({result})")
        def has(id_, cls):
            return page.locator(f'.djs-element.{cls}[data-element-id="{id_}"]').count() == 1
        c.check(has(START, "baton-completed") and has(TASK1, "baton-completed"), "completed markers")
        c.check(has(TASK2, "baton-active"), "active marker")
        c.check(has(FLOW1, "baton-flow-taken"), "flow-taken marker")
        c.check(has(TASK3, "baton-failed"), "failed marker")
        badge = page.locator(".baton-role-badge")
        c.check(badge.count() == 1 and badge.text_content() == "designer, reviewer", f"role badge ({badge.all_text_contents()})")
        stroke = page.evaluate(f"""getComputedStyle(document.querySelector('[data-element-id="{TASK2}"] .djs-visual > rect')).strokeWidth""")
        c.check(stroke == "4px", f"active outline is thick ({stroke})")
        c.check(page.locator("#viewer-canvas .bjs-powered-by").is_visible(), "viewer watermark visible")
        page.screenshot(path="/tmp/frontend-viewer.png")
        c.check(not problems, f"no console/page errors on viewer {problems}")
        c.check(not page.evaluate("window.__csp"), f"no CSP violations on viewer {page.evaluate('window.__csp')}")
        page.close()

        browser.close()


TMP = ""


def main() -> int:
    global TMP
    if not Path(CHROMIUM).exists():
        print(f"FAIL: {CHROMIUM} missing (apt-get install chromium)")
        return 2
    if not (BUILD / "modeller.js").exists():
        print("FAIL: run `node build.mjs` in modeller/frontend first")
        return 2
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        build_site(Path(tmp))
        handler = lambda *a, **kw: Handler(*a, directory=tmp, **kw)  # noqa: E731
        server = QuietServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            run(f"http://127.0.0.1:{server.server_address[1]}", c)
        except Exception:
            traceback.print_exc()
            c.failures.append("exception")
        finally:
            server.shutdown()
            server.server_close()
    print(f"\n{c.passed} passed, {len(c.failures)} failed")
    for f in c.failures:
        print("  -", f)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
