"""Who may do what, for every page and API route, as a matrix that must cover `app.url_map`.

Personas: anonymous; `nobody` (signed in, no role); `walt` (role writer: the right role for the
campaign's first task); `mia` (role manager: may start the campaign, and started it); `dora` (the
assignee of a task in another process); `ed` (designer, role "modeller"); `admin`.

A route added without a decision in `CASES` fails `test_every_route_has_a_decision`. A refused
mutating request must change nothing. Also here: sign-in throttling, password hashing, session
cookie flags, CSRF on every page POST, security headers.
"""
import itertools
import re
import sqlite3
from io import BytesIO

import pytest
from conftest import OPERATOR, PASSWORD, Api, diagram, make_app
from sqlalchemy import func, select
from test_security_sandbox import script_diagram

from engine import calendars, database, definitions, files, instances, tasks, users
from engine.insight import calendar
from engine.models import Calendar, Definition, Holiday, HumanTask, Instance, Notification, TimeOff, User

SIGNED_IN = ("nobody", "walt", "mia", "dora", "ed", "admin")
PERSONAS = ("anonymous",) + SIGNED_IN
ROLES = {"nobody": [], "walt": ["writer"], "mia": ["manager"], "dora": ["designer"], "ed": ["modeller"], "admin": []}
NEEDS_DATA = "total = amount * rate"
ASSIGNED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_assigned" targetNamespace="http://baton.example/security">
  <bpmn:process id="assigned" name="Assigned" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_assigned" name="For Dora only" camunda:assignee="dora"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_assigned" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_assigned" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>
"""
SIGNAL_WAIT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_signal" targetNamespace="http://baton.example/security">
  <bpmn:signal id="Signal_go" name="go_live" />
  <bpmn:process id="signal_wait" name="Wait for go-live" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Catch_go"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing><bpmn:signalEventDefinition signalRef="Signal_go" /></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Task_after" name="After go-live" camunda:candidateGroups="admin" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><bpmn:incoming>Flow_2</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Catch_go" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Catch_go" targetRef="Task_after" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_after" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>
"""
_counter = itertools.count(1)


class World:
    """A database with every kind of thing a route can be asked about, and fresh ones on demand."""

    def __init__(self, url):
        self.url = url
        self.session = database.connect(url)()
        self.people = {name: users.actor(users.create(self.session, name, PASSWORD, roles, name == "admin"))
                       for name, roles in ROLES.items()}
        for name, xml in (("campaign_review.bpmn", diagram("campaign_review.bpmn")),
                          ("campaign_review.bpmn", diagram("campaign_review.bpmn").replace(b"Write the copy", b"Copy")),
                          ("assigned.bpmn", ASSIGNED.encode()), ("nurture_wait.bpmn", diagram("nurture_wait.bpmn")),
                          ("signal_wait.bpmn", SIGNAL_WAIT.encode()),
                          ("needs.bpmn", script_diagram("needs_data", NEEDS_DATA))):
            definitions.deploy(self.session, [(name, xml)], OPERATOR)
        self.definition_id = self.session.scalar(select(func.min(Definition.id)))
        self.instance_id, self.brief_id = self.campaign()
        self.assigned_instance_id, self.assigned_id = self.assigned()
        self.file_id = self.attached_file(self.instance_id)

    def _open_task(self, instance_id):
        self.session.expire_all()
        return self.session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                              HumanTask.state == "open"))

    def campaign(self):
        instance = instances.start(self.session, "campaign_review", {"title": f"Matrix {next(_counter)}"},
                                   self.people["mia"])
        return instance.id, self._open_task(instance.id)

    def attached_file(self, instance_id):
        """A file attached to an instance, as a form's file field keeps it."""
        field = {"id": "doc", "type": "file"}
        kept = files.keep(self.session, instances.get(self.session, instance_id), None, [field],
                          {"doc": files.checked(field, [files.Upload("brief.txt", b"the brief")])}, OPERATOR)
        self.session.commit()
        return kept["doc"][0]["file_id"]

    def claimed(self):
        instance_id, task_id = self.campaign()
        tasks.claim(self.session, task_id, self.people["walt"])
        return instance_id, task_id

    def assigned(self):
        instance = instances.start(self.session, "assigned", {}, OPERATOR)
        return instance.id, self._open_task(instance.id)

    def failed(self):
        instance = instances.start(self.session, "needs_data", {"amount": 2}, OPERATOR)
        assert instance.status == "failed"
        return instance.id

    def nurture(self):
        email = f"lead{next(_counter)}@x.example"
        instances.start(self.session, "nurture_wait", {"email": email}, OPERATOR)
        return email

    def signal_waiter(self):
        return instances.start(self.session, "signal_wait", {}, OPERATOR).id

    def new_user(self):
        name = f"target{next(_counter)}"
        users.create(self.session, name, PASSWORD)
        return name

    def user(self, username):
        self.session.expire_all()
        user = users.find(self.session, username)
        return user.role_names, user.is_admin, user.active

    def status(self, instance_id):
        self.session.expire_all()
        return self.session.get(Instance, instance_id).status

    def task(self, task_id):
        self.session.expire_all()
        row = self.session.get(HumanTask, task_id)
        return row.state, row.claimed_by

    def calendar_secret(self, username):
        return calendar.secret_of(self.session, users.find(self.session, username))

    def data(self, instance_id):
        self.session.expire_all()
        return self.session.get(Instance, instance_id).data

    def calendar(self):
        name = f"Holidays {next(_counter)}"
        calendars.save(self.session, OPERATOR, {"name": name})
        return name

    def count(self, model):
        self.session.expire_all()
        return self.session.scalar(select(func.count()).select_from(model))


class Client:
    """One persona's view: API calls with HTTP Basic, pages with a signed-in session and CSRF tokens."""

    def __init__(self, app, persona):
        self.persona = persona
        self.client = app.test_client()
        self.api = None if persona == "anonymous" else Api(self.client, persona)
        if persona != "anonymous":
            reply = self.client.post("/login", data={"username": persona, "password": PASSWORD,
                                                     "csrf_token": self.token()})
            assert reply.status_code == 302, (persona, reply.status_code)

    def token(self):
        for page in ("/login", "/notifications/"):
            found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get(page).get_data(as_text=True))
            if found:
                return found.group(1)
        raise AssertionError("no CSRF token")

    def call(self, method, path, **kw):
        if path.startswith("/api/"):
            headers = dict(self.api.headers) if self.api else {}
            return self.client.open(path, method=method, headers=headers, **kw)
        if method == "POST":
            if "data" in kw and isinstance(kw["data"], dict):
                kw["data"] = {**kw["data"], "csrf_token": self.token()}
            else:
                kw.setdefault("headers", {})["X-CSRFToken"] = self.token()
        return self.client.open(path, method=method, **kw)


def expect(allowed, ok, deny=403, anonymous=None, everyone_else=None):
    """persona → status: `ok` for the allowed personas, `deny` for the other signed-in ones."""
    table = {p: (ok if p in allowed else (everyone_else or deny)) for p in SIGNED_IN}
    table["anonymous"] = anonymous
    return table


def api_expect(allowed, ok, deny=403):
    return expect(allowed, ok, deny, anonymous=401)


def page_expect(allowed, ok, deny=403):
    return expect(allowed, ok, deny, anonymous=302)


PARTIES = ("walt", "mia", "admin")          # may read the campaign instance: may act, started it, admin
WRITERS = ("walt", "admin")                 # may do the campaign's first task
ADMIN = ("admin",)
DESIGNERS = ("ed", "admin")
STARTERS = ("mia", "admin")
EDITORS = ("mia", "admin")                  # may move the campaign's dates: a manager who started it, admin
HOLIDAY_ICS = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
MANAGERS = ("mia", "admin")                 # the manager role and admins: the overview, nudge, reassign


def _deploy_body(world):
    xml = diagram("campaign_review.bpmn") + f"<!-- {next(_counter)} -->".encode()
    return {"data": {"file": [(BytesIO(xml), "campaign_review.bpmn")]}, "content_type": "multipart/form-data"}


# (endpoint, method, variant) → (request builder(world) → (path, kwargs, unchanged-check or None), expectation)
CASES = {
    # ---- API ---------------------------------------------------------------------------------
    ("api.deploy", "POST", ""): (
        lambda w: ("/api/v1/definitions", _deploy_body(w), lambda: w.count(Definition)),
        api_expect(DESIGNERS, 201)),
    ("api.list_definitions", "GET", ""): (
        lambda w: ("/api/v1/definitions", {}, None), api_expect(SIGNED_IN, 200)),
    ("api.show_definition", "GET", ""): (
        lambda w: (f"/api/v1/definitions/{w.definition_id}", {}, None), api_expect(SIGNED_IN, 200)),
    ("api.definition_xml", "GET", ""): (
        lambda w: (f"/api/v1/definitions/{w.definition_id}/xml", {}, None), api_expect(SIGNED_IN, 200)),
    ("api.start", "POST", ""): (
        lambda w: ("/api/v1/processes/campaign_review/instances", {"json": {"data": {"title": "Via API"}}},
                   lambda: w.count(Instance)),
        api_expect(STARTERS, 201)),
    ("api.attached_file", "GET", ""): (
        lambda w: (f"/api/v1/files/{w.file_id}", {}, None), api_expect(PARTIES, 200)),
    ("api.show_instance", "GET", ""): (
        lambda w: (f"/api/v1/instances/{w.instance_id}", {}, None), api_expect(PARTIES, 200)),
    ("api.show_instance", "GET", "assignee"): (
        lambda w: (f"/api/v1/instances/{w.assigned_instance_id}", {}, None), api_expect(("dora", "mia", "admin"), 200)),
    ("api.instance_history", "GET", ""): (
        lambda w: (f"/api/v1/instances/{w.instance_id}/history", {}, None), api_expect(PARTIES, 200)),
    ("api.cancel", "POST", ""): (
        lambda w: (lambda i: (f"/api/v1/instances/{i}/cancel", {}, lambda: w.status(i)))(w.campaign()[0]),
        api_expect(ADMIN, 200)),
    ("api.retry", "POST", ""): (
        lambda w: (lambda i: (f"/api/v1/instances/{i}/retry", {"json": {"data": {"rate": 3}}},
                              lambda: w.status(i)))(w.failed()),
        api_expect(ADMIN, 200)),
    ("api.instance_plan", "GET", ""): (
        lambda w: (f"/api/v1/instances/{w.instance_id}/plan", {}, None), api_expect(PARTIES, 200)),
    ("api.preview_plan", "POST", ""): (   # admins, managers and the starter may move an instance's dates
        lambda w: (f"/api/v1/instances/{w.instance_id}/plan/preview", {"json": {"data": {"title": "Renamed"}}},
                   lambda: w.data(w.instance_id)),
        api_expect(EDITORS, 200)),
    ("api.change_data", "PATCH", ""): (
        lambda w: (lambda i: (f"/api/v1/instances/{i}/data", {"json": {"data": {"title": "Renamed"}}},
                              lambda: w.data(i)))(w.campaign()[0]),
        api_expect(EDITORS, 200)),
    ("api.list_notifications", "GET", ""): (lambda w: ("/api/v1/notifications", {}, None), api_expect(SIGNED_IN, 200)),
    ("api.list_calendars", "GET", ""): (lambda w: ("/api/v1/calendars", {}, None), api_expect(ADMIN, 200)),
    ("api.save_calendar", "POST", ""): (
        lambda w: ("/api/v1/calendars", {"json": {"name": f"Office {next(_counter)}"}}, lambda: w.count(Calendar)),
        api_expect(ADMIN, 201)),
    ("api.add_time_off", "POST", ""): (
        lambda w: ("/api/v1/users/walt/time-off", {"json": {"first_day": "2026-08-03", "last_day": "2026-08-07"}},
                   lambda: w.count(TimeOff)),
        api_expect(ADMIN, 201)),
    ("api.list_tasks", "GET", ""): (lambda w: ("/api/v1/tasks", {}, None), api_expect(SIGNED_IN, 200)),
    ("api.show_task", "GET", ""): (
        lambda w: (f"/api/v1/tasks/{w.brief_id}", {}, None), api_expect(WRITERS + MANAGERS, 200)),
    ("api.show_task", "GET", "assignee"): (
        lambda w: (f"/api/v1/tasks/{w.assigned_id}", {}, None), api_expect(("dora", "mia", "admin"), 200)),
    ("api.claim", "POST", ""): (
        lambda w: (lambda t: (f"/api/v1/tasks/{t}/claim", {}, lambda: w.task(t)))(w.campaign()[1]),
        api_expect(WRITERS, 200)),
    ("api.unclaim", "POST", ""): (
        lambda w: (lambda t: (f"/api/v1/tasks/{t}/unclaim", {}, lambda: w.task(t)))(w.claimed()[1]),
        api_expect(WRITERS, 200)),
    ("api.unclaim", "POST", "not claimed"): (   # outsiders learn nothing about a task, not even its name
        lambda w: (lambda t: (f"/api/v1/tasks/{t}/unclaim", {}, lambda: w.task(t)))(w.campaign()[1]),
        api_expect(WRITERS, 409)),
    ("api.complete", "POST", ""): (
        lambda w: (lambda t: (f"/api/v1/tasks/{t}/complete",
                              {"json": {"data": {"brief": "Long enough brief text", "channel": "email"}}},
                              lambda: w.task(t)))(w.campaign()[1]),
        api_expect(WRITERS, 200)),
    ("api.complete", "POST", "assignee"): (
        lambda w: (lambda t: (f"/api/v1/tasks/{t}/complete", {"json": {"data": {}}},
                              lambda: w.task(t)))(w.assigned()[1]),
        api_expect(("dora", "admin"), 200)),
    ("api.create_user", "POST", ""): (
        lambda w: ("/api/v1/users", {"json": {"username": f"new{next(_counter)}", "password": "long-enough-1"}},
                   lambda: w.count(User)),
        api_expect(ADMIN, 201)),
    ("api.list_users", "GET", ""): (lambda w: ("/api/v1/users", {}, None), api_expect(ADMIN, 200)),
    ("api.create_token", "POST", ""): (lambda w: ("/api/v1/tokens", {}, None), api_expect(SIGNED_IN, 201)),
    ("api.list_tokens", "GET", ""): (lambda w: ("/api/v1/tokens", {}, None), api_expect(SIGNED_IN, 200)),
    # a token is its holder's alone: an id nobody holds, or someone else's, is a 404 for everyone
    ("api.revoke_token", "DELETE", ""): (lambda w: ("/api/v1/tokens/999999", {}, None), api_expect(SIGNED_IN, 404)),
    ("auth.tokens", "GET", ""): (lambda w: ("/account/tokens", {}, None), page_expect(SIGNED_IN, 200)),
    ("auth.revoke_token", "POST", ""): (lambda w: ("/account/tokens/999999/revoke", {"data": {}}, None),
                                        page_expect(SIGNED_IN, 404)),
    # Messages and signals merge data into other people's instances: not for any signed-in user.
    ("api.message", "POST", ""): (
        lambda w: (lambda e: ("/api/v1/messages", {"json": {"name": "ebook_downloaded", "correlation": {"email": e},
                                                            "data": {"injected": True}}},
                              lambda: w.count(HumanTask)))(w.nurture()),
        api_expect(ADMIN, 200)),
    ("api.signal", "POST", ""): (
        lambda w: (lambda i: ("/api/v1/signals", {"json": {"name": "go_live", "data": {"injected": True}}},
                              lambda: w.status(i) + str(w.count(HumanTask))))(w.signal_waiter()),
        api_expect(ADMIN, 200)),
    # ---- the manager's side (API) ----------------------------------------------------------
    ("manager_api.show_overview", "GET", ""): (lambda w: ("/api/v1/overview", {}, None), api_expect(MANAGERS, 200)),
    ("manager_api.nudge", "POST", ""): (
        lambda w: (f"/api/v1/tasks/{w.campaign()[1]}/nudge", {}, lambda: w.count(Notification)),
        api_expect(MANAGERS, 200)),
    ("manager_api.assign", "POST", ""): (
        lambda w: (lambda t: (f"/api/v1/tasks/{t}/assign", {"json": {"user": "walt"}},
                              lambda: w.task(t)))(w.campaign()[1]),
        api_expect(MANAGERS, 200)),
    ("manager_api.list_instances", "GET", ""): (lambda w: ("/api/v1/instances", {}, None), api_expect(SIGNED_IN, 200)),
    ("manager_api.show_board", "GET", ""): (
        lambda w: ("/api/v1/processes/campaign_review/board", {}, None), api_expect(SIGNED_IN, 200)),
    ("manager_api.show_analytics", "GET", ""): (
        lambda w: ("/api/v1/processes/campaign_review/analytics", {}, None), api_expect(SIGNED_IN, 200)),
    # ---- pages -------------------------------------------------------------------------------
    ("auth.login", "GET", ""): (lambda w: ("/login", {}, None), {**expect(SIGNED_IN, 302), "anonymous": 200}),
    ("auth.login", "POST", ""): (
        lambda w: ("/login", {"data": {"username": "walt", "password": PASSWORD}}, None), expect(SIGNED_IN, 302,
                                                                                              anonymous=302)),
    ("auth.logout", "POST", ""): (lambda w: ("/logout", {"data": {}}, None), page_expect(SIGNED_IN, 302)),
    ("inbox.index", "GET", ""): (lambda w: ("/", {}, None), page_expect(SIGNED_IN, 200)),
    ("inbox.task", "GET", ""): (lambda w: (f"/tasks/{w.brief_id}", {}, None), page_expect(WRITERS, 200)),
    ("inbox.task", "GET", "assignee"): (
        lambda w: (f"/tasks/{w.assigned_id}", {}, None), page_expect(("dora", "admin"), 200)),
    ("inbox.act", "POST", ""): (
        lambda w: (lambda t: (f"/tasks/{t}", {"data": {"action": "claim"}}, lambda: w.task(t)))(w.campaign()[1]),
        page_expect(WRITERS, 302)),
    ("inbox.start_list", "GET", ""): (lambda w: ("/start", {}, None), page_expect(SIGNED_IN, 200)),
    ("inbox.start", "GET", ""): (lambda w: ("/start/campaign_review", {}, None), page_expect(STARTERS, 200)),
    ("inbox.start", "POST", ""): (
        lambda w: ("/start/campaign_review", {"data": {"title": "Via the page"}}, lambda: w.count(Instance)),
        page_expect(STARTERS, 302)),
    ("instances.index", "GET", ""): (lambda w: ("/instances/", {}, None), page_expect(SIGNED_IN, 200)),
    ("instances.show", "GET", ""): (lambda w: (f"/instances/{w.instance_id}", {}, None), page_expect(PARTIES, 200)),
    ("instances.attached_file", "GET", ""): (lambda w: (f"/instances/files/{w.file_id}", {}, None),
                                             page_expect(PARTIES, 200)),
    ("instances.diagram", "GET", ""): (
        lambda w: (f"/instances/{w.instance_id}/diagram.xml", {}, None), page_expect(PARTIES, 200)),
    ("instances.progress_json", "GET", ""): (
        lambda w: (f"/instances/{w.instance_id}/progress.json", {}, None), page_expect(PARTIES, 200)),
    ("instances.cancel", "POST", ""): (
        lambda w: (lambda i: (f"/instances/{i}/cancel", {"data": {}}, lambda: w.status(i)))(w.campaign()[0]),
        page_expect(ADMIN, 302)),
    ("instances.retry", "POST", ""): (
        lambda w: (lambda i: (f"/instances/{i}/retry", {"data": {}}, lambda: w.status(i)))(w.failed()),
        page_expect(ADMIN, 302)),
    ("instances.cancel_many", "POST", ""): (
        lambda w: (lambda i: ("/instances/cancel", {"data": {"instance_id": str(i)}},
                              lambda: w.status(i)))(w.campaign()[0]),
        page_expect(ADMIN, 302)),
    ("overview.index", "GET", ""): (lambda w: ("/overview", {}, None), page_expect(MANAGERS, 200)),
    ("overview.nudge", "POST", ""): (
        lambda w: (f"/overview/tasks/{w.campaign()[1]}/nudge", {"data": {}}, lambda: w.count(Notification)),
        page_expect(MANAGERS, 302)),
    ("overview.assign", "POST", ""): (
        lambda w: (lambda t: (f"/overview/tasks/{t}/assign", {"data": {"user": "walt"}},
                              lambda: w.task(t)))(w.campaign()[1]),
        page_expect(MANAGERS, 302)),
    ("processes.show_board", "GET", ""): (
        lambda w: ("/processes/campaign_review/board", {}, None), page_expect(SIGNED_IN, 200)),
    ("processes.show_analytics", "GET", ""): (
        lambda w: ("/processes/campaign_review/analytics", {}, None), page_expect(SIGNED_IN, 200)),
    ("processes.heatmap", "GET", ""): (
        lambda w: ("/processes/campaign_review/heatmap", {}, None), page_expect(SIGNED_IN, 200)),
    ("processes.heatmap_json", "GET", ""): (
        lambda w: ("/processes/campaign_review/heatmap.json", {}, None), page_expect(SIGNED_IN, 200)),
    ("processes.diagram", "GET", ""): (
        lambda w: ("/processes/campaign_review/diagram.xml", {}, None), page_expect(SIGNED_IN, 200)),
    # the feed's secret address is its key: calendar apps cannot sign in
    ("calendar.feed", "GET", ""): (
        lambda w: (f"/calendar/{w.calendar_secret('walt')}.ics", {}, None), expect(SIGNED_IN, 200, anonymous=200)),
    ("calendar.feed", "GET", "wrong secret"): (
        lambda w: ("/calendar/not-a-secret.ics", {}, None), expect(SIGNED_IN, 404, anonymous=404)),
    ("calendar.profile", "GET", ""): (lambda w: ("/profile", {}, None), page_expect(SIGNED_IN, 200)),
    ("calendar.renew", "POST", ""): (lambda w: ("/profile/calendar", {"data": {}}, None), page_expect(SIGNED_IN, 302)),
    ("instances.preview_data", "POST", ""): (
        lambda w: (f"/instances/{w.instance_id}/data/preview", {"data": {"title": "Renamed"}},
                   lambda: w.data(w.instance_id)),
        page_expect(EDITORS, 200)),
    ("instances.change_data", "POST", ""): (
        lambda w: (lambda i: (f"/instances/{i}/data", {"data": {"title": "Renamed"}}, lambda: w.data(i)))(w.campaign()[0]),
        page_expect(EDITORS, 302)),
    ("work_calendars.index", "GET", ""): (lambda w: ("/admin/calendars/", {}, None), page_expect(ADMIN, 200)),
    ("work_calendars.save", "POST", ""): (
        lambda w: ("/admin/calendars/", {"data": {"name": f"Team {next(_counter)}", "working_days": ["1", "2"]}},
                   lambda: w.count(Calendar)),
        page_expect(ADMIN, 302)),
    ("work_calendars.import_ics", "POST", ""): (
        lambda w: (f"/admin/calendars/{w.calendar()}/ics",
                   {"data": {"file": (BytesIO(HOLIDAY_ICS), "holidays.ics")}, "content_type": "multipart/form-data"},
                   lambda: w.count(Holiday)),
        page_expect(ADMIN, 302)),
    ("work_calendars.add_time_off", "POST", ""): (
        lambda w: ("/admin/calendars/time-off", {"data": {"username": "walt", "first_day": "2026-08-03",
                                                          "last_day": "2026-08-04"}}, lambda: w.count(TimeOff)),
        page_expect(ADMIN, 302)),
    ("modeller.index", "GET", ""): (lambda w: ("/modeller/", {}, None), page_expect(SIGNED_IN, 200)),
    ("modeller.upload", "POST", ""): (
        lambda w: ("/modeller/upload", {"data": {"file": (BytesIO(diagram("campaign_review.bpmn") + f"<!-- {next(_counter)} -->".encode()), "c.bpmn")},
                                        "content_type": "multipart/form-data"}, lambda: w.count(Definition)),
        page_expect(DESIGNERS, 302)),
    ("modeller.new", "GET", ""): (lambda w: ("/modeller/new", {}, None), page_expect(SIGNED_IN, 200)),
    ("modeller.edit", "GET", ""): (lambda w: (f"/modeller/{w.definition_id}", {}, None), page_expect(SIGNED_IN, 200)),
    ("modeller.xml", "GET", ""): (
        lambda w: (f"/modeller/{w.definition_id}/xml", {}, None), page_expect(SIGNED_IN, 200)),
    ("modeller.save", "POST", ""): (
        lambda w: ("/modeller/save?name=saved", {"data": diagram("campaign_review.bpmn")
                                                 + f"<!-- {next(_counter)} -->".encode(),
                                                 "content_type": "application/xml"}, lambda: w.count(Definition)),
        page_expect(DESIGNERS, 201)),
    ("modeller.versions", "GET", ""): (
        lambda w: ("/modeller/processes/campaign_review", {}, None), page_expect(SIGNED_IN, 200)),
    ("modeller.diff", "GET", ""): (
        lambda w: ("/modeller/processes/campaign_review/diff?from=1&to=2", {}, None), page_expect(SIGNED_IN, 200)),
    ("admin.user_list", "GET", ""): (lambda w: ("/admin/users", {}, None), page_expect(ADMIN, 200)),
    ("admin.add_user", "POST", ""): (
        lambda w: ("/admin/users", {"data": {"username": f"page{next(_counter)}", "password": "long-enough-1"}},
                   lambda: w.count(User)),
        page_expect(ADMIN, 302)),
    ("admin.update_user", "POST", ""): (
        lambda w: (lambda u: (f"/admin/users/{u}", {"data": {"roles": "modeller", "admin": "on", "active": "on"}},
                              lambda: w.user(u)))(w.new_user()),
        page_expect(ADMIN, 302)),
    ("notices.index", "GET", ""): (lambda w: ("/notifications/", {}, None), page_expect(SIGNED_IN, 200)),
    ("notices.mark_read", "POST", ""): (lambda w: ("/notifications/read", {"data": {}}, None),
                                        page_expect(SIGNED_IN, 302)),
    # ---- public files ------------------------------------------------------------------------
    ("static", "GET", ""): (lambda w: ("/static/baton.css", {}, None), expect(SIGNED_IN, 200, anonymous=200)),
    ("modeller_static", "GET", ""): (
        lambda w: ("/modeller-static/build/viewer.js", {}, None), expect(SIGNED_IN, 200, anonymous=200)),
    ("modeller_static", "GET", "traversal"): (
        lambda w: ("/modeller-static/../../engine/sandbox/__init__.py", {}, None), expect(SIGNED_IN, 404, anonymous=404)),
    ("favicon", "GET", ""): (lambda w: ("/favicon.ico", {}, None), expect(SIGNED_IN, 200, anonymous=200)),
    ("api.openapi", "GET", ""): (lambda w: ("/api/v1/openapi.json", {}, None), expect(SIGNED_IN, 200, anonymous=200)),
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('authz') / 'baton.sqlite3'}"
    database.upgrade(url)
    world = World(url)
    app = make_app(url)
    clients = {p: Client(app, p) for p in PERSONAS}
    yield app, world, clients
    world.session.close()


def test_every_route_has_a_decision(matrix):
    app, _, _ = matrix
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    decided = {(endpoint, method) for endpoint, method, _ in CASES}
    assert routes - decided == set(), f"routes without a decision in the authorisation matrix: {routes - decided}"
    assert decided - routes == set(), f"decisions for routes that no longer exist: {decided - routes}"


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: f"{c[0]} {c[1]} {c[2]}".strip())
def test_authorisation_matrix(matrix, case):
    app, world, clients = matrix
    build, expected = CASES[case]
    endpoint, method, _ = case
    wrong = []
    for persona in PERSONAS:
        path, kwargs, snapshot = build(world)
        client = Client(app, persona) if endpoint.startswith("auth.") else clients[persona]
        before = snapshot() if snapshot else None
        reply = client.call(method, path, **kwargs)
        if reply.status_code != expected[persona]:
            wrong.append(f"{persona}: {reply.status_code} (expected {expected[persona]}) "
                         f"{reply.get_data(as_text=True)[:160]!r}")
        if reply.status_code >= 500:
            wrong.append(f"{persona}: server error")
        if snapshot and reply.status_code in (401, 403) and snapshot() != before:
            wrong.append(f"{persona}: refused with {reply.status_code} but the request changed something")
        if reply.status_code in (401, 403) and endpoint.startswith("api."):
            assert reply.get_json()["errors"], "refusals say why"
        if expected[persona] == 302 and persona == "anonymous" and endpoint not in ("auth.login", "auth.logout"):
            assert "/login" in reply.headers.get("Location", ""), "anonymous visitors are sent to sign in"
    assert not wrong, f"{endpoint} {method}:\n  " + "\n  ".join(wrong)


def test_the_task_list_shows_each_persona_only_their_work(matrix):
    app, world, clients = matrix
    seen = {p: {t["id"] for t in clients[p].call("GET", "/api/v1/tasks?limit=500").get_json()} for p in SIGNED_IN}
    assert world.brief_id in seen["walt"] and world.brief_id in seen["admin"]
    assert world.assigned_id in seen["dora"] and world.assigned_id not in seen["walt"]
    assert world.brief_id in seen["mia"] and world.assigned_id in seen["mia"], "mia holds the manager role"
    for persona in ("nobody", "ed"):
        assert world.brief_id not in seen[persona] and world.assigned_id not in seen[persona], persona


def test_the_api_ignores_the_session_cookie(matrix):
    """The API is exempt from CSRF because only an Authorization header signs a call in, never a cookie."""
    app, world, clients = matrix
    browser = clients["admin"].client   # signed in to the pages
    instance_id, task_id = world.campaign()
    assert browser.get("/api/v1/tasks").status_code == 401
    assert browser.post(f"/api/v1/instances/{instance_id}/cancel").status_code == 401
    assert world.status(instance_id) == "running"


# ---------------------------------------------------------------------------------------------
# Sign-in, passwords, cookies, CSRF, headers

def _login_form(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_sign_in_is_throttled_per_username(app, people):
    client = app.test_client()
    for _ in range(5):
        reply = client.post("/login", data={"username": "walt", "password": "wrong", "csrf_token": _login_form(client)})
        assert reply.status_code == 401
    blocked = client.post("/login", data={"username": "walt", "password": PASSWORD, "csrf_token": _login_form(client)})
    assert blocked.status_code == 429, "even the right password waits once the username is blocked"
    assert Api(client, "walt").get("/tasks").status_code == 429, "the API shares the throttle"
    assert Api(client, "WALT", "wrong").get("/tasks").status_code == 429, "usernames match case-insensitively"
    assert Api(client, "mia").get("/tasks").status_code == 200, "other people are not locked out"


def test_the_api_throttles_guessing_too(app, people):
    client = app.test_client()
    assert [Api(client, "dora", f"guess-{n}").get("/tasks").status_code for n in range(6)] == [401] * 5 + [429]


def test_passwords_are_stored_hashed(db_url, session, people):
    stored = session.scalar(select(User.password_hash).where(User.username == "walt"))
    assert stored != PASSWORD and PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    if db_url.startswith("sqlite"):
        raw = open(db_url.removeprefix("sqlite:///"), "rb").read()
        assert PASSWORD.encode() not in raw
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
            assert all(PASSWORD not in (row[0] or "") for row in db.execute("select password_hash from users"))


def test_the_session_cookie_is_httponly_and_samesite_lax(app, people):
    client = app.test_client()
    reply = client.post("/login", data={"username": "walt", "password": PASSWORD, "csrf_token": _login_form(client)})
    assert reply.status_code == 302
    cookies = [c for c in reply.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies and all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies), cookies


def test_csrf_is_enforced_even_in_testing_mode(app):
    assert app.config["TESTING"] is True
    assert app.config.get("WTF_CSRF_ENABLED", True) is True, "make_app must not switch CSRF off"


def _page_posts(app):
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if "POST" in rule.methods and not rule.rule.startswith("/api/"))


def test_every_page_post_without_a_token_is_refused_and_changes_nothing(matrix):
    app, world, clients = matrix
    admin = clients["admin"].client
    instance_id, task_id = world.campaign()
    failed_id = world.failed()
    target = world.new_user()
    counts = (world.count(Definition), world.count(Instance), world.count(User))
    time_off = world.count(TimeOff)
    concrete = {"/tasks/<task_id>": f"/tasks/{task_id}", "/instances/<int:instance_id>/cancel":
                f"/instances/{instance_id}/cancel", "/instances/<int:instance_id>/retry": f"/instances/{failed_id}/retry",
                "/start/<key>": "/start/campaign_review", "/admin/users/<username>": f"/admin/users/{target}",
                "/overview/tasks/<task_id>/nudge": f"/overview/tasks/{task_id}/nudge",
                "/overview/tasks/<task_id>/assign": f"/overview/tasks/{task_id}/assign",
                "/instances/<int:instance_id>/data": f"/instances/{instance_id}/data",
                "/instances/<int:instance_id>/data/preview": f"/instances/{instance_id}/data/preview",
                "/admin/calendars/<name>/ics": f"/admin/calendars/{world.calendar()}/ics",
                "/account/tokens/<int:token_id>/revoke": "/account/tokens/1/revoke"}
    forms = {"/instances/<int:instance_id>/data": {"title": "Forged"}, "/admin/calendars/": {"name": "Forged"},
             "/admin/calendars/time-off": {"username": "walt", "first_day": "2026-08-03"},
             "/tasks/<task_id>": {"action": "claim"}, "/admin/users": {"username": "forged", "password": "long-enough-1"},
             "/admin/users/<username>": {"roles": "modeller", "admin": "on", "active": "on"},
             "/start/<key>": {"title": "Forged"}, "/login": {"username": "walt", "password": PASSWORD},
             "/overview/tasks/<task_id>/assign": {"user": "walt"},
             "/instances/cancel": {"instance_id": str(instance_id)}}
    for rule in _page_posts(app):
        path = concrete.get(rule, rule)
        assert "<" not in path, f"add a concrete URL for {rule}"
        if rule == "/modeller/save":
            reply = admin.post(path + "?name=forged", data=diagram("campaign_review.bpmn") + b"<!-- forged -->",
                               content_type="application/xml")
        elif rule == "/modeller/upload":
            reply = admin.post(path, data={"file": (BytesIO(diagram("campaign_review.bpmn") + b"<!-- f -->"), "f.bpmn")},
                               content_type="multipart/form-data")
        else:
            reply = admin.post(path, data=forms.get(rule, {}))
        assert reply.status_code == 400, (rule, reply.status_code)
    assert (world.count(Definition), world.count(Instance), world.count(User)) == counts
    assert world.status(instance_id) == "running" and world.status(failed_id) == "failed"
    assert world.data(instance_id)["title"] != "Forged" and world.count(TimeOff) == time_off
    assert world.task(task_id) == ("open", None)
    assert world.user(target) == ([], False, True)
    assert admin.get("/").status_code == 200, "a forged logout did not sign the admin out"
    wrong_token = admin.post(f"/instances/{instance_id}/cancel", data={"csrf_token": "forged"})
    assert wrong_token.status_code == 400 and world.status(instance_id) == "running"


def test_pages_send_the_security_headers(matrix):
    app, world, clients = matrix
    for persona, path in (("anonymous", "/login"), ("walt", "/"), ("walt", f"/tasks/{world.brief_id}"),
                          ("ed", "/modeller/new"), ("admin", "/admin/users"), ("walt", "/api/v1/tasks"),
                          ("anonymous", "/tasks/nope")):
        reply = clients[persona].call("GET", path)
        csp = reply.headers.get("Content-Security-Policy", "")
        directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
        script = directives.get("script-src", directives.get("default-src", ""))
        assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, (path, csp)
        assert "'none'" in directives.get("frame-ancestors", "") and "'none'" in directives.get("object-src", "")
        assert reply.headers.get("X-Frame-Options") == "DENY", path
        assert reply.headers.get("X-Content-Type-Options") == "nosniff", path


# ---------------------------------------------------------------------------------------------
# Hostile requests: malformed bodies, odd ids and values are refused (4xx), never a 500.

def _raw(api_client, path, body):
    return api_client.client.post(f"/api/v1{path}", data=body,
                                  headers={**api_client.headers, "Content-Type": "application/json"})


def test_hostile_request_bodies_are_refused_not_500(api):
    assert api["ed"].deploy("campaign_review.bpmn").status_code == 201
    assert api["admin"].deploy("nurture_wait.bpmn").status_code == 201
    started = api["mia"].post("/processes/campaign_review/instances", json={"data": {"title": "Fine"}}).get_json()
    task = [t for t in api["walt"].get("/tasks").get_json() if t["instance_id"] == started["id"]][0]
    assert api["admin"].post("/processes/nurture_wait/instances", json={"data": {"email": "a@x.example"}}
                             ).status_code == 201
    deep = "[" * 50_000 + "]" * 50_000
    nested = "[" * 900 + "]" * 900
    refusals = {
        "deeply nested JSON body": _raw(api["mia"], "/processes/campaign_review/instances",
                                        '{"data": {"title": ' + deep + '}}'),
        "nested JSON in a form field": _raw(api["walt"], f"/tasks/{task['id']}/complete",
                                            '{"data": {"brief": ' + nested + '}}'),
        "lone surrogate in text": _raw(api["mia"], "/processes/campaign_review/instances",
                                       '{"data": {"title": "\\ud800"}}'),
        "NUL in text": api["mia"].post("/processes/campaign_review/instances", json={"data": {"title": "a\x00b"}}),
        "number too big for the form": _raw(api["mia"], "/processes/campaign_review/instances",
                                            '{"data": {"title": "x", "budget": ' + "9" * 5000 + '}}'),
        "nested message data": _raw(api["admin"], "/messages", '{"name": "ebook_downloaded", "correlation": '
                                                               '{"email": "a@x.example"}, "data": {"x": ' + nested + '}}'),
        "user email not text": api["admin"].post("/users", json={"username": "zz3", "password": "long-enough-1",
                                                                 "email": {"a": 1}}),
        "admin flag not a boolean": api["admin"].post("/users", json={"username": "zz4", "password": "long-enough-1",
                                                                      "admin": "false"}),
    }
    wrong = [f"{what}: {r.status_code}" for what, r in refusals.items()
             if not (400 <= r.status_code < 500 and r.get_json()["errors"])]
    assert not wrong, "\n".join(wrong)
    assert all(u["username"] not in ("zz3", "zz4") for u in api["admin"].get("/users").get_json())


def test_odd_ids_and_paging_are_not_500(api):
    assert api["ed"].deploy("campaign_review.bpmn").status_code == 201
    api["mia"].post("/processes/campaign_review/instances", json={"data": {"title": "Paging"}})
    huge = 10 ** 25
    replies = {
        "instance id beyond 64 bits": api["admin"].get(f"/instances/{huge}"),
        "instance history beyond 64 bits": api["admin"].get(f"/instances/{huge}/history"),
        "cancel beyond 64 bits": api["admin"].post(f"/instances/{huge}/cancel"),
        "definition id beyond 64 bits": api["admin"].get(f"/definitions/{huge}"),
        "very long task id": api["admin"].get("/tasks/" + "a" * 5000),
        "negative paging": api["walt"].get("/tasks?limit=-5&offset=-3"),
        "huge paging": api["walt"].get(f"/tasks?limit={huge}&offset={huge}"),
    }
    wrong = [f"{what}: {r.status_code}" for what, r in replies.items() if r.status_code >= 500]
    assert not wrong, "\n".join(wrong)
    assert replies["negative paging"].status_code in (200, 422)
    if replies["negative paging"].status_code == 200:
        assert len(replies["negative paging"].get_json()) <= 500
