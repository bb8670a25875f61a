"""Every page, as the demo's admin sees it, passes axe-core with no serious or critical violation, and a
phone-sized screen does not scroll sideways."""
from pathlib import Path

import pytest
from live import screenshot, sign_in

from engine import demo
from engine.models import HumanTask, Instance

AXE = Path(__file__).resolve().parent.parent / "modeller" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
pytestmark = [pytest.mark.browser, pytest.mark.same_on_any_database]


@pytest.fixture
def demo_site(session, live):
    demo.load(session)
    instance = session.query(Instance).filter_by(process_key="content_calendar").first()
    task = session.query(HumanTask).filter_by(state="open").first()
    pages = ["/", "/?tab=mine", "/start", "/start/content_calendar", f"/tasks/{task.id}", "/instances/",
             f"/instances/{instance.id}", "/modeller/", f"/modeller/{instance.definition_id}",
             "/modeller/processes/content_calendar", "/modeller/new", "/notifications/", "/admin/users",
             "/admin/calendars/", "/account/tokens", "/profile", "/overview", "/processes/content_calendar/board",
             "/processes/content_calendar/analytics", "/processes/content_calendar/heatmap"]
    return live, pages


def _violations(page):
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => "
                          "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target)})))")
    return [v for v in found if v["impact"] in BLOCKING]


def _audited(browser, base_url, username, password, viewport):
    """A signed-in page whose context lets axe's script in (the app's CSP rightly refuses injected scripts)."""
    context = browser.new_context(base_url=base_url, viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


@pytest.mark.long
def test_every_page_passes_axe(browser, demo_site):
    live, pages = demo_site
    admin = _audited(browser, live.url, "admin", demo.password_for("admin"), {"width": 1280, "height": 900})
    problems = {}
    for path in pages:
        admin.goto(path)
        admin.wait_for_load_state("networkidle")
        found = _violations(admin)
        if found:
            problems[path] = found
    admin.context.clear_cookies()
    admin.goto("/login")
    if _violations(admin):
        problems["/login"] = _violations(admin)
    assert problems == {}, problems


def test_the_inbox_and_a_task_fit_a_phone(browser, demo_site):
    live, _ = demo_site
    writer = sign_in(browser, live.url, "writer", demo.password_for("writer"))
    writer.set_viewport_size({"width": 390, "height": 844})
    writer.goto("/")
    assert writer.evaluate("document.documentElement.scrollWidth") <= 390, "the inbox scrolls sideways"
    labels = writer.locator("table.tasks td[data-label]").first.evaluate(
        "td => getComputedStyle(td, '::before').content")
    assert labels == '"Task: "', "each card keeps its column labels"
    screenshot(writer, "phone-inbox")
    writer.locator("table.tasks a").first.click()
    writer.wait_for_load_state("networkidle")
    assert writer.evaluate("document.documentElement.scrollWidth") <= 390, "the task page scrolls sideways"
    screenshot(writer, "phone-task")
