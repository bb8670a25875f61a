"""The plan in real Chromium: an instance's timeline, a task page's "before you" and "after you", and
the preview of a moved publish date, each as the content team reads them. Its screenshots are
the README's (copied from test-artifacts/screenshots)."""
from datetime import datetime
from pathlib import Path

import pytest
from conftest import OPERATOR, PASSWORD
from live import csp_violations, screenshot, sign_in, wait_for_global
from playwright.sync_api import expect
from sqlalchemy import select

from engine import clock, definitions, instances, tasks, users
from engine.models import HumanTask

pytestmark = [pytest.mark.browser, pytest.mark.same_on_any_database]
CALENDAR = Path(__file__).resolve().parent.parent / "diagrams" / "content_calendar.bpmn"
STARTED, TODAY = datetime(2026, 5, 1, 9, 0), datetime(2026, 5, 12, 10, 0)


def open_row(session, instance_id, element_id):
    session.expire_all()
    return session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == "open",
                                                   HumanTask.element_id == element_id)).one()


@pytest.fixture
def post(browser, live, session):
    """A blog post going out on Wed 3 June: the idea was done on time, the keyword research (due Sat 9 May) is late."""
    team = {name: users.actor(users.create(session, name, PASSWORD, roles)) for name, roles in
            (("carla", ["content strategist"]), ("sven", ["seo strategist"]), ("walt", ["writer"]))}
    definitions.deploy(session, [("content_calendar.bpmn", CALENDAR.read_bytes())], OPERATOR)
    with clock.frozen_at(STARTED):
        instance = instances.start(session, "content_calendar", {"title": "Spring guide", "publish_date": "2026-06-03"},
                                   team["carla"])
        clock.travel(datetime(2026, 5, 3, 15, 0))
        tasks.complete(session, open_row(session, instance.id, "Task_generate_idea").id, team["carla"],
                       {"idea": "Ten spring campaign ideas that worked"})
        clock.travel(TODAY)
        yield instance.id


def signed_in(browser, live, name):
    page = sign_in(browser, live.url, name, PASSWORD)
    yield page
    assert page.console_errors == [] and csp_violations(page) == [], (page.console_errors, csp_violations(page))


@pytest.fixture
def carla(browser, live, post):
    yield from signed_in(browser, live, "carla")


@pytest.fixture
def sven(browser, live, post):
    yield from signed_in(browser, live, "sven")


def test_the_instance_page_shows_the_timeline(carla, post):
    carla.goto(f"/instances/{post}")
    rows = carla.locator(".timeline-table tbody tr")
    expect(rows).to_have_count(10)
    expect(rows.nth(0).locator("td:not(.strip)")).to_have_text(
        ["Generate the idea", "carla", "Mon 04 May", "done Sun 03 May"])
    expect(rows.nth(1)).to_have_class("step-open late")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("late")
    expect(rows.nth(9).locator("td").nth(0)).to_have_text("Publish and check the live post")
    expect(rows.nth(9).locator("td").nth(2)).to_have_text("Wed 03 Jun")
    expect(carla.locator(".predicted-end")).to_have_text("Wed 03 Jun 2026")
    expect(carla.locator(".legend")).to_contain_text("today, Tue 12 May")
    screenshot(carla, "timeline", part=".timeline")


def test_the_instance_diagram_opens_readable_on_the_current_step_and_zooms(carla, post):
    """The seven-lane content calendar at 1440 px: it opens fitted to the width with the late keyword
    research centred, and the buttons (reachable with the keyboard) zoom in, out and back."""
    carla.set_viewport_size({"width": 1440, "height": 900})
    carla.goto(f"/instances/{post}")
    wait_for_global(carla, "batonViewer")
    carla.evaluate("window.batonViewer.ready")
    canvas = "window.batonViewer.viewer.get('canvas')"

    def centre_offset():
        return carla.evaluate(f"""(() => {{ const c = {canvas}, box = c.viewbox();
            const step = window.batonViewer.viewer.get('elementRegistry').get('Task_keyword_research');
            return [step.x + step.width / 2 - (box.x + box.width / 2), step.y + step.height / 2 - (box.y + box.height / 2)];
        }})()""")

    assert all(abs(d) < 2 for d in centre_offset()), "the current step is in the middle"
    width = carla.evaluate(f"(() => {{ const b = {canvas}.viewbox(); return b.inner.width * b.scale; }})()")
    shown = carla.evaluate("document.getElementById('viewer-canvas').clientWidth")
    assert shown - 30 < width <= shown, "fitted to the width"
    before = carla.evaluate(f"{canvas}.zoom()")
    carla.get_by_role("button", name="Zoom in").focus()
    carla.keyboard.press("Enter")
    assert carla.evaluate(f"{canvas}.zoom()") > before * 1.2
    carla.get_by_role("button", name="Zoom out").click()
    carla.get_by_role("button", name="Fit to width").click()
    assert abs(carla.evaluate(f"{canvas}.zoom()") - before) < 0.01
    carla.get_by_role("button", name="Show the current step").click()
    assert all(abs(d) < 2 for d in centre_offset())


def test_a_task_page_shows_who_comes_before_and_after(sven, post):
    sven.goto("/")
    sven.get_by_role("link", name="Do the keyword research", exact=True).click()
    before = sven.locator(".before-you tbody tr")
    expect(before).to_have_count(1)
    expect(before.nth(0).locator("td")).to_have_text(["Generate the idea", "carla", "Sun 03 May 2026"])
    after = sven.locator(".after-you tbody tr")
    expect(after.nth(0).locator("td")).to_have_text(["Create the outline", "writer", "Thu 14 May 2026"])
    expect(after.last.locator("td")).to_have_text(["Publish and check the live post", "writer", "Wed 03 Jun 2026"])
    screenshot(sven, "task_before_after")


def test_moving_the_publish_date_is_previewed_before_it_is_saved(carla, post, session):
    carla.goto(f"/instances/{post}")
    expect(carla.locator("#f-publish_date")).to_have_value("2026-06-03")
    carla.fill("#f-publish_date", "2026-06-10")
    carla.get_by_role("button", name="Preview").click()
    preview = carla.locator(".plan-preview")
    expect(preview.locator("h3")).to_have_text("Preview: nothing saved yet")
    expect(preview.locator("tbody tr").nth(1).locator("td")).to_have_text(
        ["Do the keyword research", "Sat 09 May 2026", "Sat 16 May 2026"])
    expect(preview.locator("tbody tr").nth(0).locator("td")).to_have_text(
        ["Generate the idea", "Mon 04 May 2026", "Mon 04 May 2026"]), "a step done keeps its dates"
    expect(preview).to_contain_text("Predicted finish: Wed 10 Jun 2026")
    assert open_row(session, post, "Task_keyword_research").due_at == datetime(2026, 5, 9), "nothing saved"
    screenshot(carla, "plan_preview", part=".plan-edit")
    carla.get_by_role("button", name="Save").click()
    expect(carla.locator(".flash-success")).to_have_text("Saved. The plan and the open due dates follow the new dates.")
    expect(carla.locator(".predicted-end")).to_have_text("Wed 10 Jun 2026")
    assert open_row(session, post, "Task_keyword_research").due_at == datetime(2026, 5, 16)
