"""Server-rendered pages: the inbox's tabs, filters, search and pages; admin user management; the
bell. (The browser tests in test_inbox_browser.py drive the same pages by clicking.)"""
import re

from conftest import OPERATOR, PASSWORD, diagram
from lxml import html

from engine import definitions, instances, tasks


class Browser:
    """A signed-in test client that submits forms with their CSRF token."""

    def __init__(self, app, username, password=PASSWORD):
        self.client = app.test_client()
        self.reply = self.post("/login", {"username": username, "password": password})

    def _token(self):
        for page in ("/login", "/start"):   # the login form before signing in, any form after
            found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get(page).text)
            if found:
                return found.group(1)
        raise AssertionError("no form with a CSRF token")

    def get(self, path):
        return self.client.get(path)

    def post(self, path, data):
        return self.client.post(path, data={**data, "csrf_token": self._token()})


def rows(reply):
    return [a.text_content().strip() for a in html.fromstring(reply.data).xpath('//table[@class="tasks"]//td[1]/a')]


def counts(reply):
    tree = html.fromstring(reply.data)
    return {a.get("data-tab"): int(a.xpath('.//span[@class="count"]')[0].text) for a in tree.xpath('//a[@data-tab]')}


def test_inbox_tabs_filters_search_and_pages(app, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    for n in range(30):
        instances.start(session, "campaign_review", {"title": f"Campaign {n:02d}"}, people["mia"])
    (first, *_), _ = tasks.open_for(session, people["walt"])
    tasks.claim(session, first.id, people["walt"])

    walt = Browser(app, "walt")
    inbox = walt.get("/")
    assert counts(inbox) == {"mine": 1, "roles": 30, "all": 30}
    assert len(rows(inbox)) == 25 and "1–25 of 30" in inbox.text
    assert len(rows(walt.get("/?page=2"))) == 5
    assert rows(walt.get("/?tab=mine")) == ["Write the brief"]
    found = walt.get("/?q=Campaign 07")
    assert len(rows(found)) == 1 and "Campaign 07" in found.text
    assert rows(walt.get("/?role=designer")) == []
    assert counts(Browser(app, "wendy").get("/"))["all"] == 29, "walt's claimed task is not offered to wendy"
    assert counts(Browser(app, "dora").get("/")) == {"mine": 0, "roles": 0, "all": 0}


def test_admin_manages_people(app, people):
    admin = Browser(app, "admin")
    assert admin.post("/admin/users", {"username": "sara", "password": "long-password", "roles": "SEO, writer",
                                       "email": "sara@x.example"}).status_code == 302
    page = admin.get("/admin/users").text
    assert "sara" in page and "seo, writer" in page
    assert Browser(app, "sara", "long-password").get("/").status_code == 200

    sara = Browser(app, "sara", "long-password")
    assert admin.post("/admin/users/sara", {"roles": "designer", "active": "on", "password": "new-password-9",
                                            "email": ""}).status_code == 302
    assert sara.get("/").status_code == 302, "a password reset ends existing sessions"
    assert Browser(app, "sara", "long-password").reply.status_code == 401
    assert Browser(app, "sara", "new-password-9").get("/").status_code == 200

    assert admin.post("/admin/users/sara", {"roles": "designer"}).status_code == 302   # active unticked
    assert Browser(app, "sara", "new-password-9").reply.status_code == 401, "deactivated"
    bad = admin.post("/admin/users", {"username": "x y", "password": "short"})
    assert bad.status_code == 422 and "at least 8 characters" in bad.text
    assert Browser(app, "walt").get("/admin/users").status_code == 403


def test_the_bell_counts_new_work_and_clears(app, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instances.start(session, "campaign_review", {"title": "Bell"}, people["mia"])
    walt = Browser(app, "walt")
    count = html.fromstring(walt.get("/").data).xpath('//span[@id="unread-count"]')[0].text
    assert count == "1"
    assert "New task: Write the brief" in walt.get("/notifications/").text
    walt.post("/notifications/read", {})
    assert html.fromstring(walt.get("/").data).xpath('//span[@id="unread-count"]')[0].text == "0"


def test_pages_need_sign_in_and_login_is_throttled(app, people):
    client = app.test_client()
    for path in ("/", "/start", "/instances/", "/modeller/", "/admin/users", "/notifications/"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/login" in reply.location
    for _ in range(5):
        assert Browser(app, "walt", "wrong-password").reply.status_code == 401
    assert Browser(app, "walt", PASSWORD).reply.status_code == 429, "blocked after 5 failures, even with the password"
    assert Browser(app, "mia", PASSWORD).reply.status_code == 302, "other accounts are not affected"


def test_a_claim_conflict_keeps_what_was_typed_and_says_who_holds_the_task(app, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instances.start(session, "campaign_review", {"title": "Conflict"}, people["mia"])
    (brief,), _ = tasks.open_for(session, people["walt"])
    walt = Browser(app, "walt")
    assert "Complete" in walt.get(f"/tasks/{brief.id}").text
    tasks.claim(session, brief.id, people["wendy"])   # wendy claims it while walt is typing

    reply = walt.post(f"/tasks/{brief.id}", {"action": "complete", "brief": "My careful brief"})
    assert reply.status_code == 409
    page = html.fromstring(reply.text)
    assert page.get_element_by_id("f-brief").text_content() == "My careful brief" \
        or page.get_element_by_id("f-brief").get("value") == "My careful brief"
    assert "wendy is working on this task" in reply.text
    assert not page.xpath('//button[@value="complete"]'), "no Complete button for a task someone else holds"


def test_the_instance_page_shows_data_as_people_read_it(app, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "Readable", "budget": 500}, people["mia"])
    (brief,), _ = tasks.open_for(session, people["walt"])
    tasks.complete(session, brief.id, people["walt"], {"brief": "A brief long enough"})
    (copy,), _ = tasks.open_for(session, people["walt"], tab="roles")
    tasks.complete(session, copy.id, people["walt"], {"copy": "Buy"})
    (visuals,), _ = tasks.open_for(session, people["dora"])
    tasks.complete(session, visuals.id, people["dora"], {"visual_url": "v.png"})
    (approve,), _ = tasks.open_for(session, people["mia"], tab="roles")
    tasks.complete(session, approve.id, people["mia"], {"approved": False})

    page = html.fromstring(Browser(app, "mia").get(f"/instances/{instance.id}").text)
    data = dict(zip([dt.text_content() for dt in page.xpath("//dl[@class='data']/dt")],
                    [dd.text_content() for dd in page.xpath("//dl[@class='data']/dd")]))
    assert data["Campaign title"] == "Readable" and data["Budget (EUR)"] == "500"
    assert next(v for k, v in data.items() if k.lower().startswith("approved")) == "no"
    history = page.xpath("//ol[@class='history']")[0].text_content()
    assert "True" not in history and "None" not in history and "['" not in history


def test_a_task_page_shows_what_earlier_steps_entered_and_a_revision_opens_with_the_last_answers(app, session, people):
    """The approver reads the brief, copy and visual link they approve; after a rejection the writer
    reads the feedback under its label, and the brief form holds the brief written the first time."""
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "Spring sale", "budget": 500}, people["mia"])

    def open_task(element_id):
        rows, _ = tasks.open_for(session, people["admin"], limit=50)
        return next(r for r in rows if r.instance_id == instance.id and r.element_id == element_id)

    tasks.complete(session, open_task("Task_brief").id, people["walt"], {"brief": "Short and sweet", "channel": "email"})
    tasks.complete(session, open_task("Task_copy").id, people["walt"], {"copy": "Buy now"})
    tasks.complete(session, open_task("Task_visuals").id, people["dora"],
                   {"visual_url": "https://cdn.example/spring.png", "ready_on": "2026-03-02"})

    def earlier(page):
        tree = html.fromstring(page.data)
        return {h.text.strip(): dict(zip([d.text_content() for d in h.getparent().xpath(".//dt")],
                                         [d.text_content() for d in h.getparent().xpath(".//dd")]))
                for h in tree.xpath('//section[@class="earlier"]//h3')}

    approve = Browser(app, "mia").get(f"/tasks/{open_task('Task_approve').id}")
    shown = earlier(approve)
    assert shown["Start"] == {"Campaign title": "Spring sale", "Budget (EUR)": "500"}
    assert shown["Write the brief"] == {"Brief": "Short and sweet", "Main channel": "email"}
    assert shown["Design the visuals"] == {"Link to the visual": "https://cdn.example/spring.png", "Ready on": "2 Mar 2026"}
    assert b'<a href="https://cdn.example/spring.png" rel="noopener noreferrer">' in approve.data
    tasks.complete(session, open_task("Task_approve").id, people["mia"], {"approved": False, "feedback": "Sharper please"})

    revision = Browser(app, "walt").get(f"/tasks/{open_task('Task_brief').id}")
    shown = earlier(revision)
    assert shown["Approve the campaign"] == {"Approved": "no", "Feedback": "Sharper please"}
    assert "Write the brief" not in shown, "its fields are the form itself"
    form = html.fromstring(revision.data).xpath('//form[contains(@class, "task-form")]')[0]
    assert form.xpath('.//textarea[@name="brief"]')[0].text_content().strip() == "Short and sweet"


def _review_bpmn(condition="approved = false"):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Defs_review" targetNamespace="http://baton.test">
  <bpmn:process id="review_notes" name="Review with notes" isExecutable="true">
    <bpmn:startEvent id="Start_review" />
    <bpmn:userTask id="Task_review" name="Review the draft" camunda:candidateGroups="manager">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="approved" label="Approved" type="boolean" />
        <camunda:formField id="notes" label="Notes for the writer" type="string">
          <camunda:validation><camunda:constraint name="required_when" config="{condition}" /></camunda:validation>
        </camunda:formField>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="End_review" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start_review" targetRef="Task_review" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_review" targetRef="End_review" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_notes_required_only_when_not_approved_shown_before_typing_and_checked_on_the_server(app, api):
    for condition, reason in (("approved is false", "write it as <field> = <value>"),
                              ("approval = false", "names 'approval', which is not another field of this form")):
        refused = api["ed"].deploy(("bad.bpmn", _review_bpmn(condition)))
        assert refused.status_code == 422
        problem = refused.get_json()["errors"][0]
        assert problem["element_id"] == "Task_review" and "form field 'notes'" in problem["message"]
        assert reason in problem["message"]
    assert api["ed"].deploy(("review.bpmn", _review_bpmn())).status_code == 201
    assert api["mia"].post("/processes/review_notes/instances", json={"data": {}}).status_code == 201
    task_id = api["mia"].get("/tasks").get_json()[0]["id"]
    page = Browser(app, "mia").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'id="f-notes-hint">Required when Approved is no.</p>' in page, "the rule shows before typing"

    refused = api["mia"].post(f"/tasks/{task_id}/complete", json={"data": {"approved": False, "notes": "  "}})
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == [{"field": "notes", "message": "is required when Approved is no"}]
    assert api["mia"].get(f"/tasks/{task_id}").get_json()["state"] == "open", "nothing was completed"
    form = Browser(app, "mia")
    reply = form.post(f"/tasks/{task_id}", {"action": "complete"})   # an unticked box: not approved
    assert reply.status_code == 422 and "Notes for the writer is required when Approved is no" in reply.get_data(as_text=True)
    assert api["mia"].post(f"/tasks/{task_id}/complete", json={"data": {"approved": True}}).status_code == 200


def test_an_admin_corrects_the_data_of_a_failed_instance_on_its_page_and_retries(app, api):
    """The script stopped on a missing `rate`: the page offers each value in a box and a box for what is
    missing; a number typed where a number was stays a number, a word there is refused by name and
    nothing changes; then the retry runs on."""
    from test_security_sandbox import NEEDS_DATA, script_diagram
    assert api["ed"].deploy(("needs.bpmn", script_diagram("needs_data", NEEDS_DATA, after_user_task=True))
                            ).status_code == 201
    iid = api["mia"].post("/processes/needs_data/instances", json={"data": {"amount": 5}}).get_json()["id"]
    task = [t for t in api["admin"].get("/tasks").get_json() if t["instance_id"] == iid][0]
    assert api["admin"].post(f"/tasks/{task['id']}/complete", json={"data": {}}).get_json()["status"] == "failed"

    admin = Browser(app, "admin")
    reply = admin.get(f"/instances/{iid}")
    assert reply.status_code == 200, reply.get_data(as_text=True)[:2000]
    page = html.fromstring(reply.data)
    assert page.xpath('//details[@class="retry-fix"]//input[@name="data:amount"]/@value') == ["5"]
    assert Browser(app, "mia").post(f"/instances/{iid}/retry", {"new_name": "rate", "new_value": "2"}).status_code == 403

    refused = admin.post(f"/instances/{iid}/retry", {"data:amount": "five", "new_name": "rate", "new_value": "2"})
    assert refused.status_code == 422 and "must be a whole number" in refused.get_data(as_text=True)
    assert api["admin"].get(f"/instances/{iid}").get_json()["status"] == "failed", "nothing changed"

    admin.post(f"/instances/{iid}/retry", {"data:amount": "6", "new_name": "rate", "new_value": "2"})
    body = api["admin"].get(f"/instances/{iid}").get_json()
    assert body["status"] == "running" and body["data"]["total"] == 12 and body["data"]["label"] == "rate 2"


def test_the_start_page_says_who_may_start_the_process(app, session, people):
    """Who may start comes from the start event's lane: the page says so rather than leaving it silent."""
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    page = html.fromstring(Browser(app, "mia").get("/start/campaign_review").data)
    assert page.xpath('//p[@id="who-starts"]')[0].text_content() == \
        "Who can start it: manager (its start event is in the lane “Manager”)."
