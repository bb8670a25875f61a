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
