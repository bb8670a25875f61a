"""The inbox in real Chromium: three people in three roles drive the campaign diagram (a loop and a
parallel split) to completion purely by clicking and typing, and an outsider is kept out."""
import re

import pytest
from conftest import OPERATOR, PASSWORD, diagram
from live import screenshot, sign_in
from playwright.sync_api import expect

from engine import definitions, history

pytestmark = [pytest.mark.browser, pytest.mark.same_on_any_database]


def inbox_tasks(page, tab=None):
    page.goto(f"/?tab={tab}" if tab else "/")
    return [a.text_content().strip() for a in page.locator("table.tasks tbody td:first-child a").all()]


def open_task(page, name):
    page.goto("/")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.locator("h1")).to_have_text(name)


def complete(page, name, values=None, checks=()):
    open_task(page, name)
    for field, value in (values or {}).items():
        page.fill(f"#f-{field}", value)
    for field in checks:
        page.check(f"#f-{field}")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(re.compile(r"/$"))
    return page.locator(".flash-success").text_content()


@pytest.mark.long
def test_three_people_hand_the_campaign_on_by_clicking(browser, live, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    mia, walt, dora = (sign_in(browser, live.url, name, PASSWORD) for name in ("mia", "walt", "dora"))

    # mia starts the campaign from the start page; the start form is validated
    mia.goto("/start")
    mia.get_by_role("link", name="Campaign review").click()
    # the rules show before anyone types: attributes the browser knows, and a hint tied to the field
    expect(mia.locator("#f-title")).to_have_attribute("required", "")
    expect(mia.locator("#f-budget")).to_have_attribute("min", "0")
    expect(mia.locator("#f-budget-hint")).to_have_text("A whole number from 0 to 100000.")
    expect(mia.locator("#f-title-hint")).to_have_text("Required. At most 80 characters.")
    expect(mia.locator("#f-title")).to_have_attribute("maxlength", "80")
    expect(mia.locator("#f-budget")).to_have_attribute("aria-describedby", "f-budget-hint")
    mia.fill("#f-budget", "-5")
    mia.get_by_role("button", name="Start").click()
    # the server checks too; each error names its field, is tied to it, and the first one has the focus
    expect(mia.locator("#f-title-error")).to_have_text("Campaign title is required")
    expect(mia.locator("#f-budget-error")).to_have_text("Budget (EUR) must be at least 0")
    expect(mia.locator("#f-title")).to_have_attribute("aria-invalid", "true")
    expect(mia.locator("#f-title")).to_have_attribute("aria-describedby", "f-title-hint f-title-error")
    expect(mia.locator("#f-title")).to_be_focused()
    expect(mia.locator("#f-budget")).to_have_value("-5")
    mia.fill("#f-title", "Spring <b>sale</b>")
    mia.fill("#f-budget", "500")
    mia.get_by_role("button", name="Start").click()
    expect(mia.locator("h1")).to_contain_text("Spring <b>sale</b>")   # shown as text, not markup
    instance_url = mia.url

    assert inbox_tasks(dora) == [] and inbox_tasks(mia, "roles") == [], "mia's All tab shows all: she manages"
    assert inbox_tasks(walt) == ["Write the brief"]
    expect(walt.locator('[data-tab="roles"] .count')).to_have_text("1")
    expect(walt.locator("table.tasks")).to_contain_text("Spring <b>sale</b>")
    screenshot(walt, "inbox")

    # validation errors appear next to the fields and keep what was typed
    open_task(walt, "Write the brief")
    expect(walt.locator(".instructions strong")).to_have_text("goal")   # Markdown documentation
    walt.fill("#f-brief", "too short")
    walt.select_option("#f-channel", "social")
    walt.get_by_role("button", name="Complete").click()
    expect(walt.locator("#f-brief-error")).to_have_text("Brief must be at least 10 characters")
    expect(walt.locator("#f-brief")).to_have_value("too short")
    expect(walt.locator("#f-channel")).to_have_value("social")
    screenshot(walt, "task-form-with-errors")

    message = complete(walt, "Write the brief", {"brief": "Spring sale for loyal customers"})
    assert "Completed “Write the brief”" in message
    assert "Write the copy → writer" in message and "Design the visuals → designer" in message

    for approved in (False, True):
        if approved:
            complete(walt, "Write the brief", {"brief": "A sharper brief, one message"})
        assert inbox_tasks(dora) == ["Design the visuals"]
        complete(dora, "Design the visuals", {"visual_url": "https://cdn.example/key.png", "ready_on": "2026-12-01"})
        assert inbox_tasks(mia, "roles") == [], "approval waits for the copy too"
        message = complete(walt, "Write the copy", {"copy": "Save 20% this spring"})
        assert "Approve the campaign → manager" in message
        message = complete(mia, "Approve the campaign", {"feedback": "ok" if approved else "sharper please"},
                           checks=["approved"] if approved else ())
        assert ("The process is complete." in message) == approved
        if not approved:
            assert "Write the brief → writer" in message

    mia.goto(instance_url)
    expect(mia.locator("h1 .status")).to_have_text("completed")
    users_in_history = mia.locator(".history li[data-type=task_completed] strong").all_text_contents()
    assert users_in_history == ["walt", "dora", "walt", "mia", "walt", "dora", "walt", "mia"]
    expect(mia.locator(".history")).to_contain_text("Feedback: sharper please")
    screenshot(mia, "instance")
    for page in (mia, walt, dora):
        assert page.console_errors == [], page.console_errors


def test_an_outsider_can_neither_open_nor_post_a_task(browser, live, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    from engine import instances, tasks
    instance = instances.start(session, "campaign_review", {"title": "Secret"}, people["mia"])
    (brief,), _ = tasks.open_for(session, people["walt"])
    before = [(e.type, e.element_id) for e in history.events(session, instance.id)]

    dora = sign_in(browser, live.url, "dora", PASSWORD)
    reply = dora.goto(f"/tasks/{brief.id}")
    assert reply.status == 403
    expect(dora.locator("h1")).to_have_text("Not allowed")
    assert "Secret" not in dora.content()

    token = dora.request.get("/start").text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', token).group(1)
    with_token = dora.request.post(f"/tasks/{brief.id}", form={"csrf_token": csrf, "action": "complete",
                                                               "brief": "I am not a writer at all"})
    assert with_token.status == 403
    forged = dora.request.post(f"/tasks/{brief.id}", form={"action": "complete", "brief": "Forged without token"})
    assert forged.status == 400
    walt = sign_in(browser, live.url, "walt", PASSWORD)
    forged_by_writer = walt.request.post(f"/tasks/{brief.id}", form={"action": "complete", "brief": "No CSRF token!"})
    assert forged_by_writer.status == 400, "even the right role needs the CSRF token"

    session.expire_all()
    assert [(e.type, e.element_id) for e in history.events(session, instance.id)] == before
    assert tasks.get(session, brief.id).state == "open"


def test_task_done_by_someone_else_shows_a_clear_message(browser, live, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    from engine import instances, tasks
    instances.start(session, "campaign_review", {"title": "Race"}, people["mia"])
    (brief,), _ = tasks.open_for(session, people["walt"])
    walt = sign_in(browser, live.url, "walt", PASSWORD)
    open_task(walt, "Write the brief")
    tasks.complete(session, brief.id, people["wendy"], {"brief": "Wendy was quicker here"})
    walt.fill("#f-brief", "My own brief, too late")
    walt.get_by_role("button", name="Complete").click()
    expect(walt.locator(".flash-error")).to_contain_text("no longer open")
    expect(walt.locator(".notice")).to_contain_text("by wendy")
