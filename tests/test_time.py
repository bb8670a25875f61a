"""Time and hand-offs: due dates from a publish date, reminders by email, boundary timers that
escalate or reroute, a nurture flow waiting for a message or a timeout, webhooks, and two
workers firing 1,000 timers on PostgreSQL exactly once. Time is passed in, never slept."""
import email
import email.policy
import json
import os
import socket
import threading
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from conftest import OPERATOR, diagram
from sqlalchemy import func, select

from engine import clock, database, definitions, history, instances, notifications, tasks, timers, users, worker
from engine.errors import Invalid
from engine.models import Event, HumanTask, Instance, Notification

T0 = datetime(2026, 11, 2, 9, 0)


def deploy(session, name):
    definitions.deploy(session, [(name, diagram(name))], OPERATOR)


def open_task(session, instance, element_id):
    rows = [r for r in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                                 HumanTask.state == "open"))
            if r.element_id == element_id]
    assert len(rows) == 1, f"expected one open {element_id}"
    return rows[0]


def open_elements(session, instance):
    return sorted(r.element_id for r in session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.state == "open")))


class Mailbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "subject": str(parsed["Subject"]),
                              "body": parsed.get_content()})
        return "250 OK"

    def subjects(self, prefix=""):
        return [m["subject"] for m in self.messages if m["subject"].startswith(prefix)]


@pytest.fixture
def mailbox(monkeypatch):
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("BATON_SMTP_URL", f"smtp://127.0.0.1:{port}")
    yield box
    controller.stop()


def test_due_dates_follow_the_publish_date(session):
    deploy(session, "mini_calendar.bpmn")
    with clock.frozen_at(T0):
        post = instances.start(session, "mini_calendar", {"title": "Winter guide", "publish_date": "2026-12-31"},
                               OPERATOR)
        idea = open_task(session, post, "Task_idea")
        assert idea.due_at == datetime(2026, 12, 1), "JUEL ${publish_date - days(30)}"
        tasks.complete(session, idea.id, OPERATOR, {})
        keywords = open_task(session, post, "Task_keywords")
        assert keywords.due_at == datetime(2026, 12, 6) and keywords.follow_up_at == datetime(2026, 12, 4)
        clock.travel(T0 + timedelta(hours=5))
        tasks.complete(session, keywords.id, OPERATOR, {})
        assert open_task(session, post, "Task_publish").due_at == T0 + timedelta(hours=5, days=2), "P2D from ready"


def test_reminder_email_before_the_deadline_and_none_after_completion(session, mailbox):
    users.create(session, "sam", "password-1", ["seo"], email="sam@agency.example")
    deploy(session, "mini_calendar.bpmn")
    with clock.frozen_at(T0):
        post = instances.start(session, "mini_calendar", {"title": "Winter guide", "publish_date": "2026-12-31"},
                               OPERATOR)
        tasks.complete(session, open_task(session, post, "Task_idea").id, OPERATOR, {})
        worker.run_once(session)
        assert mailbox.subjects("New task: Keyword research"), "the seo role hears at once"

        clock.travel(datetime(2026, 12, 3, 23, 0))
        worker.run_once(session)
        assert mailbox.subjects("Reminder:") == [], "no reminder before the follow-up date"
        clock.travel(datetime(2026, 12, 4, 0, 1))
        worker.run_once(session)
        assert mailbox.subjects("Reminder:") == ["Reminder: Keyword research — Mini content calendar Winter guide"]
        assert mailbox.messages[-1]["to"] == ["sam@agency.example"]
        worker.run_once(session)
        assert len(mailbox.subjects("Reminder:")) == 1, "a reminder is sent once"

        tasks.complete(session, open_task(session, post, "Task_keywords").id, OPERATOR, {})
        clock.travel(datetime(2026, 12, 7))
        worker.run_once(session)
        assert not [s for s in mailbox.subjects() if "Keyword research" in s and not s.startswith(("New", "Remind"))]
        assert len(mailbox.subjects("Reminder:")) == 1


def test_failed_email_is_retried_with_backoff(session, mailbox, monkeypatch):
    good_url = os.environ["BATON_SMTP_URL"]
    monkeypatch.setenv("BATON_SMTP_URL", "smtp://127.0.0.1:9")   # nothing listens on the discard port
    users.create(session, "sam", "password-1", ["seo"], email="sam@agency.example")
    deploy(session, "mini_calendar.bpmn")
    with clock.frozen_at(T0):
        post = instances.start(session, "mini_calendar", {"title": "Retry", "publish_date": "2026-12-31"}, OPERATOR)
        tasks.complete(session, open_task(session, post, "Task_idea").id, OPERATOR, {})
        assert worker.run_once(session)["delivered"] == 0
        email = session.scalar(select(Notification).where(Notification.channel == "email"))
        assert email.status == "pending" and email.attempts == 1 and "Error" in email.last_error
        assert email.next_attempt_at == T0 + timedelta(seconds=60)
        monkeypatch.setenv("BATON_SMTP_URL", good_url)
        assert worker.run_once(session)["delivered"] == 0, "not before the back-off has passed"
        clock.travel(T0 + timedelta(seconds=61))
        assert worker.run_once(session)["delivered"] == 1
        session.refresh(email)
        assert email.status == "sent" and mailbox.subjects("New task: Keyword research")


def test_non_interrupting_timer_escalates_while_the_task_stays_open(session):
    deploy(session, "boundary_timers.bpmn")
    with clock.frozen_at(T0):
        review = instances.start(session, "boundary_timers", {}, OPERATOR)
        assert review.next_timer_at == T0 + timedelta(hours=1)
        assert timers.fire_due(session, T0 + timedelta(minutes=59)) == 0
        clock.travel(T0 + timedelta(minutes=61))
        assert timers.fire_due(session, clock.now()) == 1
        session.refresh(review)
        assert open_elements(session, review) == ["Task_escalate", "Task_review"]
        assert open_task(session, review, "Task_escalate").roles == ["manager"]
        tasks.complete(session, open_task(session, review, "Task_escalate").id, OPERATOR, {})
        assert review.status == "running" and open_elements(session, review) == ["Task_review"]
        done = tasks.complete(session, open_task(session, review, "Task_review").id, OPERATOR, {})
        assert done.status == "completed" and done.next_timer_at is None


def test_interrupting_timer_reroutes_and_missed_timers_fire_in_due_order(session):
    deploy(session, "boundary_timers.bpmn")
    with clock.frozen_at(T0):
        review = instances.start(session, "boundary_timers", {}, OPERATOR)
        review_task = open_task(session, review, "Task_review")
        clock.travel(T0 + timedelta(days=1, seconds=1))   # the worker was down: both timers are due
        assert timers.fire_due(session, clock.now()) == 2
        session.refresh(review_task)
        assert review_task.state == "cancelled"
        assert open_elements(session, review) == ["Task_escalate", "Task_fallback"]
        fired = [e.element_id for e in history.events(session, review.id) if e.type == "timer_fired"]
        assert fired == ["Timer_nudge", "Timer_giveup"]
        assert timers.fire_due(session, clock.now()) == 0, "each timer fires once"


def test_nurture_waits_for_a_download_or_three_days(app, api, session):
    deploy(session, "nurture_wait.bpmn")
    with clock.frozen_at(T0):
        anna = api["admin"].post("/processes/nurture_wait/instances", json={"data": {"email": "anna@x.example"}})
        ben = api["admin"].post("/processes/nurture_wait/instances", json={"data": {"email": "ben@x.example"}})
        anna, ben = anna.get_json(), ben.get_json()
        unmatched = api["admin"].post("/messages", json={"name": "ebook_downloaded",
                                                         "correlation": {"email": "nobody@x.example"}})
        assert unmatched.status_code == 404 and "no running instance" in unmatched.get_json()["errors"][0]["message"]
        hit = api["admin"].post("/messages", json={"name": "ebook_downloaded", "correlation": {"email": "anna@x.example"},
                                                  "data": {"pages_read": 12}})
        assert hit.status_code == 200 and hit.get_json() == {"delivered_to": [anna["id"]]}
        anna = api["admin"].get(f"/instances/{anna['id']}").get_json()
        assert [t["element_id"] for t in anna["tasks"]] == ["Task_hand_to_sales"] and anna["data"]["pages_read"] == 12

        clock.travel(T0 + timedelta(days=3, minutes=1))
        assert worker.run_once(session)["timers"] == 1, "only ben's timer is still waiting"
        ben = api["admin"].get(f"/instances/{ben['id']}").get_json()
        assert [t["element_id"] for t in ben["tasks"]] == ["Task_email_two"]
        late = api["admin"].post("/messages", json={"name": "ebook_downloaded", "correlation": {"email": "ben@x.example"}})
        assert late.status_code == 404, "ben no longer waits: the timeout won"
        assert api["admin"].post("/messages", json={"name": ""}).status_code == 422


class Hooks(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        Hooks.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_role_webhook_gets_new_tasks(session, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hooks.received.clear()
    monkeypatch.setenv("BATON_ROLE_WEBHOOKS", json.dumps({"sales": f"http://127.0.0.1:{server.server_port}/hook"}))
    try:
        deploy(session, "nurture_wait.bpmn")
        lead = instances.start(session, "nurture_wait", {"email": "c@x.example"}, OPERATOR)
        from engine import messages
        messages.deliver(session, OPERATOR, "ebook_downloaded", {"email": "c@x.example"})
        assert worker.run_once(session)["delivered"] == 1
        assert Hooks.received and "Hand the lead to sales" in Hooks.received[0]["text"]
        assert Hooks.received[0]["instance_id"] == lead.id
    finally:
        server.shutdown()


@pytest.mark.long
def test_two_workers_on_postgres_fire_1000_timers_exactly_once(pg_url):
    factory = database.connect(pg_url)
    setup = factory()
    deploy(setup, "one_timer.bpmn")
    with clock.frozen_at(T0):
        ids = [instances.start(setup, "one_timer", {}, OPERATOR).id for _ in range(1000)]
        fired, errors = [], []

        def work():
            session = factory()
            try:
                while (count := timers.fire_due(session, T0 + timedelta(minutes=2), limit=50)):
                    fired.append(count)
            except Exception as error:  # surfaced by the assertion below
                errors.append(error)
            finally:
                session.close()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(fired) == 1000
    per_instance = dict(setup.execute(select(Event.instance_id, func.count()).where(Event.type == "timer_fired")
                                      .group_by(Event.instance_id)).all())
    assert len(per_instance) == 1000 and set(per_instance.values()) == {1} and set(per_instance) == set(ids)
    assert setup.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == "open")) == 1000
    setup.close()


def test_date_form_values_are_dates_in_expressions(session):
    deploy(session, "mini_calendar.bpmn")
    post = instances.start(session, "mini_calendar", {"publish_date": "2027-01-31"}, OPERATOR)
    assert post.data["publish_date"] == "2027-01-31"
    assert open_task(session, post, "Task_idea").due_at == datetime.combine(date(2027, 1, 1), datetime.min.time())


def test_email_steps_go_through_the_outbox(session, mailbox):
    deploy(session, "welcome_email.bpmn")
    signup = instances.start(session, "welcome_email", {"name": "Ada", "email": "ada@x.example", "plan": "Pro"},
                             OPERATOR)
    assert open_elements(session, signup) == ["Task_call"], "the email step does not wait for the mail server"
    worker.run_once(session)
    welcome = next(m for m in mailbox.messages if m["subject"] == "Welcome, Ada!")
    assert welcome["to"] == ["ada@x.example"]
    assert welcome["body"].strip() == "Hi Ada, your Pro plan is ready. {name.__class__}", "no attribute access"
    done = tasks.complete(session, open_task(session, signup, "Task_call").id, OPERATOR, {})
    assert done.status == "completed"
    worker.run_once(session)
    assert "How is it going, Ada?" in mailbox.subjects()
    queued = [e.element_id for e in history.events(session, signup.id) if e.type == "email_queued"]
    assert queued == ["Send_welcome", "Send_followup"]


def test_a_service_task_nothing_can_run_is_an_incident_not_a_crash(session):
    unhandled = diagram("welcome_email.bpmn").replace(b'camunda:type="email">\n      <bpmn:extensionElements><camunda:properties>\n        <camunda:property name="to" value="{email}" />\n        <camunda:property name="subject" value="Welcome',
                                                      b'camunda:type="crm">\n      <bpmn:extensionElements><camunda:properties>\n        <camunda:property name="to" value="{email}" />\n        <camunda:property name="subject" value="Welcome')
    assert unhandled != diagram("welcome_email.bpmn")
    definitions.deploy(session, [("welcome_email.bpmn", unhandled)], OPERATOR)
    signup = instances.start(session, "welcome_email", {"email": "x@x.example"}, OPERATOR)
    assert signup.status == "failed"
    assert signup.incident["element_id"] == "Send_welcome" and "no handler" in signup.incident["message"]


def test_each_firing_of_a_cycle_timer_start_event_starts_a_new_instance(session):
    """As in Camunda and SpiffArena: R3/PT1H starts three instances an hour apart, each with its own task,
    and the waiting schedule ends after the third."""
    with clock.frozen_at(T0):
        deploy(session, "weekly_newsletter.bpmn")
        (scheduled,) = session.scalars(select(Instance).where(Instance.process_key == "weekly")).all()
        assert scheduled.status == "running" and scheduled.next_timer_at == T0 + timedelta(hours=1)
        assert open_elements(session, scheduled) == []

        def runs():
            return session.scalars(select(Instance).where(Instance.process_key == "weekly", Instance.id != scheduled.id)
                                   .order_by(Instance.id)).all()
        for hour, count in ((1, 1), (2, 2), (3, 3), (4, 3)):
            clock.travel(T0 + timedelta(hours=hour, minutes=1))
            worker.run_once(session)
            session.refresh(scheduled)
            assert len(runs()) == count, f"after {hour} h"
            assert open_elements(session, scheduled) == [], "the runs are not inside the schedule"
        assert [open_elements(session, run) for run in runs()] == [["Task_write"]] * 3
        assert [run.created_at for run in runs()] == [T0 + timedelta(hours=h, minutes=1) for h in (1, 2, 3)]
        assert {run.started_by for run in runs()} == {"worker"}
        assert scheduled.status == "completed", "R3: three runs, then the schedule is done"
        for row in session.scalars(select(HumanTask).where(HumanTask.state == "open")).all():
            tasks.complete(session, row.id, OPERATOR, {})
        assert {run.status for run in runs()} == {"completed"}


def test_a_camunda_cron_cycle_starts_an_instance_each_weekday_at_its_time(session):
    """`0 30 9 ? * MON-FRI` (Quartz cron, as Camunda 7 writes it): a run at 09:30 UTC on each weekday,
    the ones missed while the worker was away fired when it comes back, none at the weekend."""
    xml = diagram("weekly_newsletter.bpmn").replace(b"R3/PT1H", b"0 30 9 ? * MON-FRI")
    with clock.frozen_at(T0):   # Monday 2 November 2026, 09:00
        definitions.deploy(session, [("weekly_newsletter.bpmn", xml)], OPERATOR)
        (scheduled,) = session.scalars(select(Instance).where(Instance.process_key == "weekly")).all()
        assert scheduled.next_timer_at == datetime(2026, 11, 2, 9, 30)

        def runs():
            return session.scalars(select(Instance).where(Instance.process_key == "weekly", Instance.id != scheduled.id)
                                   .order_by(Instance.id)).all()
        clock.travel(datetime(2026, 11, 2, 9, 31))
        worker.run_once(session)
        session.refresh(scheduled)
        assert len(runs()) == 1 and scheduled.next_timer_at == datetime(2026, 11, 3, 9, 30)
        clock.travel(datetime(2026, 11, 7, 12, 0))   # Saturday: Tuesday to Friday were missed
        worker.run_once(session)
        session.refresh(scheduled)
        assert len(runs()) == 5 and scheduled.status == "running"
        assert scheduled.next_timer_at == datetime(2026, 11, 9, 9, 30), "next Monday, not the weekend"


def test_a_cron_cycle_the_engine_cannot_keep_is_refused_at_deploy_in_plain_words(session):
    for cycle, reason in ((b"* * * * * ?", "repeats more often than every 60 s"),
                          (b"0 0 12 L * ?", "uses L, W or #, which Baton does not support"),
                          (b"0 0 25 * * ?", "the hour field has '25'; use 0 to 23")):
        xml = diagram("weekly_newsletter.bpmn").replace(b"R3/PT1H", cycle)
        with pytest.raises(Invalid) as refused:
            definitions.deploy(session, [("weekly_newsletter.bpmn", xml)], OPERATOR)
        (problem,) = refused.value.errors
        assert problem["element_id"] == "Start_weekly" and reason in problem["message"], problem


def test_a_new_version_replaces_the_waiting_scheduled_instance(session):
    with clock.frozen_at(T0):
        deploy(session, "weekly_newsletter.bpmn")
        definitions.deploy(session, [("weekly_newsletter.bpmn", diagram("weekly_newsletter.bpmn").replace(
            b"R3/PT1H", b"R/P7D"))], OPERATOR)
        old, new = session.scalars(select(Instance).where(Instance.process_key == "weekly").order_by(Instance.id))
        assert (old.status, old.version) == ("cancelled", 1)
        assert (new.status, new.version, new.next_timer_at) == ("running", 2, T0 + timedelta(days=7))


def test_a_task_tells_its_role_then_its_claimer_and_the_managers(session):
    """A new task tells every active member of its role, in the app and by email when they have an address,
    and nobody else; once claimed, its overdue notice goes to the claimer and to the managers."""
    users.create(session, "sam", "password-1", ["seo"], email="sam@agency.example")
    users.create(session, "sue", "password-1", ["seo", "writer"])                       # no address: the app only
    users.create(session, "sid", "password-1", ["seo"], email="sid@agency.example")
    users.update(session, "sid", active=False)                                          # left the agency
    users.create(session, "max", "password-1", ["design"], email="max@agency.example")  # another role
    users.create(session, "meg", "password-1", ["manager"], email="meg@agency.example")
    deploy(session, "mini_calendar.bpmn")

    def told(kind, task_id):
        return sorted(session.execute(select(Notification.channel, Notification.recipient, Notification.target)
                                      .where(Notification.kind == kind, Notification.task_id == task_id)).all())

    with clock.frozen_at(T0):
        post = instances.start(session, "mini_calendar", {"title": "Who hears", "publish_date": "2026-12-31"},
                               OPERATOR)
        tasks.complete(session, open_task(session, post, "Task_idea").id, OPERATOR, {})
        keywords = open_task(session, post, "Task_keywords")
        assert told("task_ready", keywords.id) == [("app", "sam", None), ("app", "sue", None),
                                                   ("email", "sam", "sam@agency.example")]
        tasks.claim(session, keywords.id, users.actor(users.find(session, "sue")))
        clock.travel(datetime(2026, 12, 7))   # due on 6 December
        worker.run_once(session)
        assert told("overdue", keywords.id) == [("app", "meg", None), ("app", "sue", None),
                                                ("email", "meg", "meg@agency.example")]


def test_a_month_means_the_same_for_a_due_date_and_a_timer():
    """`P1M` from 10 February is 10 March for a task's due date, as it is for a timer (not 30 days)."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    from engine import deadlines
    start = datetime(2026, 2, 10, 9, 0)
    due = deadlines.resolve("P1M", {}, start)
    timer = start + TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration("P1M"), start)
    assert due == timer == datetime(2026, 3, 10, 9, 0)


def test_two_workers_on_postgres_send_each_email_exactly_once(pg_url, mailbox):
    """The outbox on PostgreSQL with two workers draining it at once: every email goes out, none twice."""
    import threading
    factory = database.connect(pg_url)
    with factory() as session:
        session.add_all([Notification(channel="email", kind="task_ready", recipient=f"p{n}",
                                      target=f"p{n}@agency.example", subject=f"New task {n}", body="Hello",
                                      status="pending", next_attempt_at=T0) for n in range(40)])
        session.commit()
    results = []

    def drain():
        with factory() as session:
            results.append(notifications.deliver_pending(session, T0 + timedelta(minutes=1)))

    workers = [threading.Thread(target=drain) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert sum(results) == 40
    assert sorted(mailbox.subjects("New task")) == sorted(f"New task {n}" for n in range(40)), "once each"
    factory.kw["bind"].dispose()


def test_two_workers_on_postgres_remind_and_say_overdue_once(pg_url):
    """Two workers passing over the same due reminders and deadlines at once: one reminder and one
    overdue notice per task and person, never two."""
    import threading
    factory = database.connect(pg_url)
    with factory() as setup:
        users.create(setup, "sam", "password-1", ["seo"], email="sam@agency.example")
        deploy(setup, "mini_calendar.bpmn")
        with clock.frozen_at(T0):
            for n in range(15):
                post = instances.start(setup, "mini_calendar", {"title": f"Post {n}", "publish_date": "2026-12-31"},
                                       OPERATOR)
                tasks.complete(setup, open_task(setup, post, "Task_idea").id, OPERATOR, {})

    def twice(job, moment):
        def run():
            with factory() as session:
                job(session, moment)
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    twice(notifications.send_reminders, datetime(2026, 12, 4, 0, 1))   # after the follow-up, before the due date
    twice(notifications.mark_overdue, datetime(2026, 12, 7))
    with factory() as session:
        for kind in ("reminder", "overdue"):
            sent = session.execute(select(Notification.task_id, Notification.channel, Notification.recipient)
                                   .where(Notification.kind == kind)).all()
            assert len(sent) >= 15 * 2, (kind, len(sent))   # sam, in the app and by email, for each task
            assert len(sent) == len(set(sent)), f"a {kind} notice went out twice"
    factory.kw["bind"].dispose()
