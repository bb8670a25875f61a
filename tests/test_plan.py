"""The plan of an instance: every step's date known from the start, and dates that move with the
publish date. Time is passed in with the fake clock, never slept."""
from datetime import date, datetime, timedelta
from pathlib import Path

import contract
import pytest
from conftest import OPERATOR, Api, diagram
from sqlalchemy import select

from engine import calendars, clock, definitions, instances, tasks, users, workdays, worker
from engine.models import Event, HumanTask, Instance, Notification

T0 = datetime(2026, 5, 4, 9, 0)
CALENDAR = Path(__file__).parents[1] / "diagrams" / "content_calendar.bpmn"
PUBLISH = date(2026, 6, 30)
CALENDAR_STEPS = {"Task_generate_idea": 30, "Task_keyword_research": 25, "Task_create_outline": 20,
                  "Task_seo_approve_outline": 15, "Task_stakeholder_approve_outline": 15, "Task_write_draft": 10,
                  "Task_review_draft": 10, "Task_create_images": 5, "Task_schedule_promotion": 4,
                  "Task_publish_post": 0}
TEAM = {"carla": ["content strategist"], "sven": ["seo strategist"], "stella": ["stakeholder"],
        "rita": ["reviewer"], "gina": ["graphic designer"], "sam": ["social media manager"]}   # with conftest's people


def at(day):
    return datetime(day.year, day.month, day.day)


def iso(moment):
    return moment.isoformat()


@pytest.fixture
def team(session, people):
    """The content team: conftest's people (walt writes, mia manages, admin) and one person per other role."""
    return {**people, **{name: users.actor(users.create(session, name, "password-1", roles))
                         for name, roles in TEAM.items()}}


def deploy_calendar(session):
    definitions.deploy(session, [("content_calendar.bpmn", CALENDAR.read_bytes())], OPERATOR)


def start_calendar(session, actor, publish=PUBLISH):
    return instances.start(session, "content_calendar", {"title": "Spring guide", "publish_date": publish.isoformat()},
                           actor)


def open_row(session, instance, element_id):
    session.expire_all()
    return session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open",
                                                   HumanTask.element_id == element_id)).one()


def do(session, instance, element_id, actor, data):
    return tasks.complete(session, open_row(session, instance, element_id).id, actor, data)


def up_to_the_approvals(session, instance, team):
    do(session, instance, "Task_generate_idea", team["carla"], {"idea": "Ten spring campaign ideas"})
    do(session, instance, "Task_keyword_research", team["sven"], {"primary_keyword": "spring ideas"})
    do(session, instance, "Task_create_outline", team["walt"], {"outline_url": "https://docs.example.com/o"})


def patch(api, path, data):
    return contract.check(api.client.patch(f"/api/v1{path}", json={"data": data}, headers=api.headers))


def test_starting_the_content_calendar_plans_every_step_back_from_the_publish_date(session, app, team):
    deploy_calendar(session)
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        plan = Api(app.test_client(), "carla").get(f"/instances/{post.id}/plan").get_json()
    assert plan["instance_id"] == post.id
    assert [s["element_id"] for s in plan["steps"]] == list(CALENDAR_STEPS), "every human step, in flow order"
    assert {s["element_id"]: s["planned_due"] for s in plan["steps"]} == \
        {element: iso(at(PUBLISH) - timedelta(days=days)) for element, days in CALENDAR_STEPS.items()}
    assert sorted({s["planned_due"] for s in plan["steps"]}) == \
        [iso(at(PUBLISH) - timedelta(days=d)) for d in (30, 25, 20, 15, 10, 5, 4, 0)], "eight planned dates"
    assert [s["state"] for s in plan["steps"]] == ["open"] + ["planned"] * 9
    assert plan["steps"][1]["roles"] == ["seo strategist"]
    assert plan["steps"][0]["due_at"] == iso(at(PUBLISH) - timedelta(days=30))
    assert plan["predicted_end"] == iso(at(PUBLISH))


def test_completed_steps_keep_their_actual_dates_and_the_rest_stays_planned(session, app, team):
    deploy_calendar(session)
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        clock.travel(T0 + timedelta(days=2))
        do(session, post, "Task_generate_idea", team["carla"], {"idea": "Ten spring campaign ideas"})
        plan = Api(app.test_client(), "carla").get(f"/instances/{post.id}/plan").get_json()
    steps = {s["element_id"]: s for s in plan["steps"]}
    idea = steps["Task_generate_idea"]
    assert (idea["state"], idea["completed_by"], idea["completed_at"]) == ("done", "carla", iso(T0 + timedelta(days=2)))
    assert steps["Task_keyword_research"]["state"] == "open"
    assert steps["Task_create_images"]["planned_due"] == iso(at(PUBLISH) - timedelta(days=5))


def test_moving_the_publish_date_a_week_moves_every_open_date_and_tells_each_owner_once(session, app, team):
    deploy_calendar(session)
    api = {name: Api(app.test_client(), name) for name in team}
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        up_to_the_approvals(session, post, team)
        done_before = {r.element_id: (r.due_at, r.completed_at, r.completed_by) for r in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == post.id, HumanTask.state == "completed"))}
        approvals = ("Task_seo_approve_outline", "Task_stakeholder_approve_outline")
        old_due = {e: open_row(session, post, e).due_at for e in approvals}
        old_reminders = {e: open_row(session, post, e).next_reminder_at for e in approvals}
        reply = patch(api["carla"], f"/instances/{post.id}/data", {"publish_date": "2026-07-07"})
        assert reply.status_code == 200, reply.get_json()
        assert {t["element_id"]: t["due_at"] for t in reply.get_json()["tasks"]} == \
            {e: iso(d + timedelta(weeks=1)) for e, d in old_due.items()}
        assert {e: open_row(session, post, e).next_reminder_at for e in approvals} == \
            {e: d + timedelta(weeks=1) for e, d in old_reminders.items()}, "the reminders move with their due dates"
        session.expire_all()
        assert {r.element_id: (r.due_at, r.completed_at, r.completed_by) for r in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == post.id, HumanTask.state == "completed"))} == done_before
        moved = session.scalars(select(Notification).where(Notification.kind == "date_moved",
                                                           Notification.channel == "app")).all()
        assert sorted(n.recipient for n in moved) == ["stella", "sven"], "each owner of a moved date, once"
        assert "was due 2026-06-15 00:00 UTC, now due 2026-06-22 00:00 UTC" in moved[0].body
        change = session.scalars(select(Event).where(Event.instance_id == post.id, Event.type == "data_changed")).one()
        assert change.user == "carla" and change.data == {"old": {"publish_date": "2026-06-30"},
                                                          "new": {"publish_date": "2026-07-07"}}
        plan = api["carla"].get(f"/instances/{post.id}/plan").get_json()
        assert plan["predicted_end"] == "2026-07-07T00:00:00"
        assert {s["element_id"]: s["planned_due"] for s in plan["steps"]}["Task_create_images"] == "2026-07-02T00:00:00"


def test_a_moved_date_moves_reminders_and_the_timers_that_read_it(session, team):
    definitions.deploy(session, [("launch_countdown.bpmn", diagram("launch_countdown.bpmn"))], OPERATOR)
    with clock.frozen_at(T0):
        launch = instances.start(session, "launch_countdown", {"title": "Launch", "publish_date": "2026-06-30"},
                                 team["mia"])
        write = open_row(session, launch, "Task_write")
        assert (write.due_at, write.follow_up_at, launch.next_timer_at) == \
            (datetime(2026, 6, 20), datetime(2026, 6, 18), datetime(2026, 6, 29))
        from engine.plan import anchor
        anchor.change_data(session, launch.id, team["mia"], {"publish_date": "2026-07-07"})
        write = open_row(session, launch, "Task_write")
        session.refresh(launch)
        assert (write.due_at, write.follow_up_at, launch.next_timer_at) == \
            (datetime(2026, 6, 27), datetime(2026, 6, 25), datetime(2026, 7, 6)), "exactly a week later"
        assert open_row(session, launch, "Task_confirm_date").due_at == T0 + timedelta(days=1), "P1D reads no data"

        clock.travel(datetime(2026, 6, 18, 0, 1))
        worker.run_once(session)
        assert not session.scalars(select(Notification).where(Notification.kind == "reminder")).all(), \
            "the old reminder moment has passed without a reminder"
        clock.travel(datetime(2026, 6, 29, 0, 1))
        worker.run_once(session)
        session.refresh(launch)
        assert launch.next_timer_at == datetime(2026, 7, 6), "the timer did not fire at its old moment"


def test_a_moved_date_moves_a_timer_cycle_that_reads_it(session, team):
    """Daily reminders in the run-up (`R3/<publish date - 3 days>T09:00Z/P1D`) move with the publish date."""
    xml = diagram("launch_countdown.bpmn").replace(
        b"<bpmn:timeDate>(publish_date - days(1)).isoformat()</bpmn:timeDate>",
        b'<bpmn:timeCycle>"R3/" + (publish_date - days(3)).isoformat() + "T09:00:00Z/P1D"</bpmn:timeCycle>')
    definitions.deploy(session, [("launch_countdown.bpmn", xml)], OPERATOR)
    with clock.frozen_at(T0):
        launch = instances.start(session, "launch_countdown", {"title": "Launch", "publish_date": "2026-06-30"},
                                 team["mia"])
        assert launch.next_timer_at == datetime(2026, 6, 27, 9, 0)
        from engine.plan import anchor
        anchor.change_data(session, launch.id, team["mia"], {"publish_date": "2026-07-07"})
        session.refresh(launch)
        assert launch.next_timer_at == datetime(2026, 7, 4, 9, 0), "exactly a week later"
        moved = session.scalars(select(Event).where(Event.instance_id == launch.id, Event.type == "timer_moved")).one()
        assert moved.data["new"]["cycles"] == 3


def test_a_date_changed_through_a_task_form_moves_the_other_open_dates(session, team):
    definitions.deploy(session, [("launch_countdown.bpmn", diagram("launch_countdown.bpmn"))], OPERATOR)
    with clock.frozen_at(T0):
        launch = instances.start(session, "launch_countdown", {"title": "Launch", "publish_date": "2026-06-30"},
                                 team["mia"])
        do(session, launch, "Task_confirm_date", team["mia"], {"publish_date": "2026-07-14"})
        session.refresh(launch)
        assert open_row(session, launch, "Task_design").due_at == datetime(2026, 7, 9)
        assert launch.next_timer_at == datetime(2026, 7, 13)
        walt = session.scalars(select(Notification).where(Notification.kind == "date_moved",
                                                          Notification.recipient == "walt")).one()
        assert "Write the announcement" in walt.body


def test_only_admins_managers_and_the_starter_may_move_dates_and_a_preview_saves_nothing(session, app, team):
    deploy_calendar(session)
    api = {name: Api(app.test_client(), name) for name in team}
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        up_to_the_approvals(session, post, team)
        assert patch(api["walt"], f"/instances/{post.id}/data", {"publish_date": "2026-07-07"}).status_code == 403
        preview = api["mia"].post(f"/instances/{post.id}/plan/preview", json={"data": {"publish_date": "2026-07-07"}})
        assert preview.status_code == 200
        steps = {s["element_id"]: s for s in preview.get_json()["steps"]}
        assert steps["Task_seo_approve_outline"]["planned_due"] == "2026-06-22T00:00:00"
        assert steps["Task_seo_approve_outline"]["due_at"] == "2026-06-15T00:00:00", "the task itself is unchanged"
        assert steps["Task_generate_idea"]["completed_by"] == "carla"
        session.expire_all()
        assert session.get(Instance, post.id).data["publish_date"] == "2026-06-30"
        assert open_row(session, post, "Task_seo_approve_outline").due_at == datetime(2026, 6, 15)
        assert not session.scalars(select(Notification).where(Notification.kind == "date_moved")).all()
        bad = patch(api["mia"], f"/instances/{post.id}/data", {"publish_date": "soon", "budget": 3})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.get_json()["errors"]} == {"publish_date", "budget"}


def test_a_task_shows_who_came_before_and_who_comes_after(session, app, team):
    deploy_calendar(session)
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        do(session, post, "Task_generate_idea", team["carla"], {"idea": "Ten spring campaign ideas"})
        task = Api(app.test_client(), "sven").get(f"/tasks/{open_row(session, post, 'Task_keyword_research').id}")
    body = task.get_json()
    assert [(s["name"], s["completed_by"]) for s in body["before"]] == [("Generate the idea", "carla")]
    assert body["after"][0] == {**body["after"][0], "name": "Create the outline", "roles": ["writer"],
                                "planned_due": "2026-06-10T00:00:00"}
    assert [s["element_id"] for s in body["after"]][-1] == "Task_publish_post"


def test_notifications_list_newest_first(session, app, team):
    deploy_calendar(session)
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        clock.travel(T0 + timedelta(minutes=5))
        do(session, post, "Task_generate_idea", team["carla"], {"idea": "Ten spring campaign ideas"})
        notices = Api(app.test_client(), "sven").get("/notifications").get_json()
    assert [n["kind"] for n in notices] == ["task_ready"]
    assert notices[0]["subject"].startswith("New task: Do the keyword research") and notices[0]["read_at"] is None
    carla = Api(app.test_client(), "carla").get("/notifications").get_json()
    assert carla[0]["created_at"] >= carla[-1]["created_at"]


def notices(session, kind, person="walt"):
    return session.scalars(select(Notification).where(Notification.kind == kind, Notification.channel == "app",
                                                      Notification.recipient == person)
                           .order_by(Notification.id)).all()


def reminders_sent_by(session, counts):
    """Travel to each moment of `counts` in turn, run the worker, and check how many reminders walt has."""
    for moment, expected in counts.items():
        clock.travel(moment)
        worker.run_once(session)
        assert len(notices(session, "reminder")) == expected, moment


def test_a_step_with_48_and_24_hour_reminders_sends_both_at_their_moments(session, team):
    definitions.deploy(session, [("two_reminders.bpmn", diagram("two_reminders.bpmn"))], OPERATOR)
    with clock.frozen_at(T0):
        instances.start(session, "two_reminders", {"title": "Launch post", "publish_date": "2026-05-10"}, team["mia"])
        worker.run_once(session)
        assert notices(session, "reminder") == [] and "also your reminder" not in notices(session, "task_ready")[0].body
        reminders_sent_by(session, {datetime(2026, 5, 7, 23, 59): 0, datetime(2026, 5, 8, 0, 0): 1,
                                    datetime(2026, 5, 8, 23, 59): 1, datetime(2026, 5, 9, 0, 0): 2,
                                    datetime(2026, 5, 9, 23, 0): 2})
        assert [n.created_at for n in notices(session, "reminder")] == [datetime(2026, 5, 8), datetime(2026, 5, 9)]


def test_reminders_that_would_come_outside_working_hours_come_at_the_nearest_working_moment(session, team):
    calendars.save(session, OPERATOR, {"name": "Office", "working_days": [1, 2, 3, 4, 5], "day_starts": "08:30",
                                       "day_ends": "17:30", "default": True})
    definitions.deploy(session, [("two_reminders.bpmn", diagram("two_reminders.bpmn"))], OPERATOR)
    with clock.frozen_at(T0):
        post = instances.start(session, "two_reminders", {"title": "Launch post", "publish_date": "2026-05-11"},
                               team["mia"])
        task = open_row(session, post, "Task_write_post")
        assert task.due_at == datetime(2026, 5, 11, 17, 30), "due on Monday when its working day ends"
        assert task.next_reminder_at == datetime(2026, 5, 8, 17, 30), \
            "48 hours before is Saturday: the end of Friday is nearer than Monday morning"
        reminders_sent_by(session, {datetime(2026, 5, 8, 17, 29): 0, datetime(2026, 5, 8, 17, 30): 1,
                                    datetime(2026, 5, 10, 17, 30): 1, datetime(2026, 5, 11, 8, 29): 1,
                                    datetime(2026, 5, 11, 8, 30): 2})
    assert [n.created_at for n in notices(session, "reminder")] == [datetime(2026, 5, 8, 17, 30),
                                                                    datetime(2026, 5, 11, 8, 30)], \
        "24 hours before is Sunday evening: Monday's start is nearer, and still before the due time"


def test_the_nearest_working_moment_never_comes_after_the_due_time():
    office = {"weekdays": [1, 2, 3, 4, 5], "holidays": [], "day_starts": "09:00", "day_ends": "17:00"}
    due = datetime(2026, 5, 12, 12, 0)   # Tuesday noon
    at = lambda moment, latest=due: workdays.in_working_hours(office, moment, latest)  # noqa: E731
    assert at(datetime(2026, 5, 12, 10, 0)) == datetime(2026, 5, 12, 10, 0), "in working hours: unchanged"
    assert at(datetime(2026, 5, 12, 3, 0)) == datetime(2026, 5, 12, 9, 0), "3 a.m.: that morning is nearer"
    assert at(datetime(2026, 5, 11, 19, 0)) == datetime(2026, 5, 11, 17, 0), "7 p.m.: the evening before is nearer"
    assert at(datetime(2026, 5, 12, 3, 0), latest=datetime(2026, 5, 12, 8, 0)) == datetime(2026, 5, 11, 17, 0), \
        "due before work starts: the end of the day before"
    assert workdays.in_working_hours(workdays.EVERY_DAY, datetime(2026, 5, 9, 3, 0), due) == datetime(2026, 5, 9, 3, 0)


def test_a_reminder_already_due_when_the_task_opens_is_folded_into_its_notice(session, team):
    definitions.deploy(session, [("two_reminders.bpmn", diagram("two_reminders.bpmn"))], OPERATOR)
    with clock.frozen_at(datetime(2026, 5, 8, 12, 0)):   # due in 36 hours: the 48-hour reminder is late already
        instances.start(session, "two_reminders", {"title": "Launch post", "publish_date": "2026-05-10"}, team["mia"])
        worker.run_once(session)
        clock.travel(datetime(2026, 5, 8, 12, 0, 59))
        worker.run_once(session)
        assert notices(session, "reminder") == [], "never a reminder in the same minute as the new-task notice"
        assert "this is also your reminder" in notices(session, "task_ready")[0].body
        clock.travel(datetime(2026, 5, 9, 0, 0))
        worker.run_once(session)
        assert len(notices(session, "reminder")) == 1, "the 24-hour reminder still comes"


def test_the_server_default_reminders_accept_a_list(session, team, monkeypatch):
    monkeypatch.setenv("BATON_REMINDER_HOURS", "72, 24")
    deploy_calendar(session)
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        idea = open_row(session, post, "Task_generate_idea")
        assert idea.reminder_leads == [72 * 3600, 24 * 3600]
        assert idea.next_reminder_at == idea.due_at - timedelta(hours=72)


CHRISTMAS = [{"day": "2026-12-25", "name": "Christmas Day"}, {"day": "2026-12-28", "name": "Boxing Day (observed)"}]


def test_dates_counted_back_over_a_holiday_weekend_land_on_the_working_day_before(session, app, team):
    api = Api(app.test_client(), "admin")
    backwards = api.post("/calendars", json={"name": "Office", "day_starts": "17:30", "day_ends": "09:00"})
    assert backwards.status_code == 422 and backwards.get_json()["errors"] == [
        {"field": "day_ends", "message": "the working day must end after it starts"}]
    saved = api.post("/calendars", json={"name": "Office", "working_days": [1, 2, 3, 4, 5], "holidays": CHRISTMAS,
                                         "day_starts": "08:30", "day_ends": "17:30", "default": True})
    assert saved.status_code == 201 and saved.get_json()["default"] is True
    definitions.deploy(session, [("working_days.bpmn", diagram("working_days.bpmn"))], OPERATOR)
    with clock.frozen_at(datetime(2026, 12, 1, 9, 0)):
        letter = instances.start(session, "working_days", {"title": "Year in review", "publish_date": "2026-12-29"},
                                 team["walt"])
        brief = open_row(session, letter, "Task_brief")
        assert brief.due_at == datetime(2026, 12, 22, 17, 30), \
            "3 working days before Tue 29 Dec skip Mon 28, the weekend and Fri 25; due when that working day ends"
        planned = {s["element_id"]: s["planned_due"] for s in Api(app.test_client(), "walt")
                   .get(f"/instances/{letter.id}/plan").get_json()["steps"]}
        assert planned["Task_proofread"] == "2026-12-24T17:30:00", "Fri 25 Dec is a holiday: the working day before"
        do(session, letter, "Task_brief", team["walt"], {})
        clock.travel(datetime(2026, 12, 24, 10, 0))
        do(session, letter, "Task_proofread", team["walt"], {})
        assert open_row(session, letter, "Task_send").due_at == datetime(2026, 12, 29, 10, 0), \
            "a day counted on from Thu 24 Dec lands after the holiday weekend"


def test_claiming_or_being_given_a_task_due_in_your_time_off_warns(session, app, team):
    admin = Api(app.test_client(), "admin")
    away = admin.post("/users/walt/time-off", json={"first_day": "2026-06-08", "last_day": "2026-06-12",
                                                    "note": "holiday in Crete"})
    assert away.status_code == 201
    refused = Api(app.test_client(), "walt").post("/users/walt/time-off", json={"first_day": "2026-06-08"})
    assert refused.status_code == 403, "only admins record time off"
    deploy_calendar(session)
    with clock.frozen_at(T0):
        post = start_calendar(session, team["carla"])
        do(session, post, "Task_generate_idea", team["carla"], {"idea": "Ten spring campaign ideas"})
        do(session, post, "Task_keyword_research", team["sven"], {"primary_keyword": "spring ideas"})
        outline = open_row(session, post, "Task_create_outline")   # due Wed 10 June
        claimed = Api(app.test_client(), "walt").post(f"/tasks/{outline.id}/claim")
    assert claimed.status_code == 200
    assert claimed.get_json()["warnings"] == [
        "“Create the outline” is due Wed 10 Jun 2026, while walt is away (08 Jun – 12 Jun 2026: holiday in Crete)."]
    with clock.frozen_at(T0):
        do(session, post, "Task_create_outline", team["walt"], {"outline_url": "https://docs.example.com/o"})
        seo = open_row(session, post, "Task_seo_approve_outline")   # due 15 June: walt is back
        admin.post("/users/sven/time-off", json={"first_day": "2026-06-15", "last_day": "2026-06-15"})
    sven = app.test_client()
    sven.post("/login", data={"username": "sven", "password": "password-1", "csrf_token": _csrf(sven, "/login")})
    reply = sven.post(f"/tasks/{seo.id}", data={"action": "claim", "csrf_token": _csrf(sven, f"/tasks/{seo.id}")},
                      follow_redirects=True)
    assert "while sven is away" in reply.get_data(as_text=True)
    with clock.frozen_at(T0):
        stakeholders = open_row(session, post, "Task_stakeholder_approve_outline")   # due 15 June too
    handed = Api(app.test_client(), "mia").post(f"/tasks/{stakeholders.id}/assign", json={"user": "stella"})
    assert handed.status_code == 200 and handed.get_json()["warnings"] == [], "stella is not away"
    admin.post("/users/stella/time-off", json={"first_day": "2026-06-14", "last_day": "2026-06-20"})
    handed = Api(app.test_client(), "mia").post(f"/tasks/{stakeholders.id}/assign", json={"user": "stella"})
    assert handed.get_json()["warnings"] == [
        "“Stakeholders approve the outline” is due Mon 15 Jun 2026, while stella is away (14 Jun – 20 Jun 2026)."]


def _csrf(client, page):
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)


ICS = b"""BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r
SUMMARY:Christmas\r\n  holidays\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:New Year's Day\r
END:VEVENT\r\nEND:VCALENDAR\r\n"""


def test_admins_keep_calendars_on_a_page_and_import_holidays_from_ics(session, app, team):
    from io import BytesIO
    client = app.test_client()
    client.post("/login", data={"username": "admin", "password": "password-1", "csrf_token": _csrf(client, "/login")})
    saved = client.post("/admin/calendars/", data={"name": "Office", "working_days": ["1", "2", "3", "4", "5"],
                                                   "day_starts": "08:30", "day_ends": "17:00", "default": "1",
                                                   "holidays": "2026-05-25 Whit Monday",
                                                   "csrf_token": _csrf(client, "/admin/calendars/")})
    assert saved.status_code == 302
    imported = client.post("/admin/calendars/Office/ics", data={"file": (BytesIO(ICS), "holidays.ics"),
                                                               "csrf_token": _csrf(client, "/admin/calendars/")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "Imported 3 holidays into “Office”" in imported.get_data(as_text=True)
    listed = Api(app.test_client(), "admin").get("/calendars").get_json()
    assert listed == [{"id": listed[0]["id"], "name": "Office", "default": True, "working_days": [1, 2, 3, 4, 5],
                       "day_starts": "08:30", "day_ends": "17:00",
                       "holidays": [{"day": "2026-05-25", "name": "Whit Monday"},
                                    {"day": "2026-12-25", "name": "Christmas holidays"},
                                    {"day": "2026-12-26", "name": "Christmas holidays"},
                                    {"day": "2027-01-01", "name": "New Year's Day"}]}]
    assert Api(app.test_client(), "mia").get("/calendars").status_code == 403
    page = client.get("/admin/calendars/").get_data(as_text=True)
    assert "Works Monday, Tuesday, Wednesday, Thursday, Friday, 08:30–17:00." in page
    assert "Fri 25 Dec 2026 (Christmas holidays)" in page


def test_the_plan_follows_the_path_taken_then_what_the_data_decides_and_marks_the_rest_undecided(session):
    definitions.deploy(session, [("lead_to_cash.bpmn", (CALENDAR.parent / "lead_to_cash.bpmn").read_bytes())],
                       OPERATOR)
    from engine import plan
    with clock.frozen_at(T0):
        lead = instances.start(session, "lead_to_cash", {"title": "Northwind", "lead_source": "event",
                                                         "contact_email": "buyer@northwind.example"}, OPERATOR)
        steps = {s["element_id"]: s for s in plan.of_instance(session, lead)["steps"]}
        assert steps["Task_qualify_lead"]["state"] == "open"
        assert steps["Task_contact_lead"]["state"] == "undecided", "sales_ready is not known yet"
        assert steps["Task_contact_lead"]["planned_due"] == T0 + timedelta(days=2), "P1D after the step before"
        do(session, lead, "Task_qualify_lead", OPERATOR, {"lead_score": 80, "sales_ready": True})
        steps = {s["element_id"]: s for s in plan.of_instance(session, lead)["steps"]}
        assert [steps[e]["state"] for e in ("Task_qualify_lead", "Task_contact_lead", "Task_close_deal")] == \
            ["done", "open", "planned"], "the path taken"
        assert steps["Task_close_deal"]["planned_due"] == T0 + timedelta(days=15)
        assert steps["Task_issue_invoice"]["state"] == steps["Task_record_loss"]["state"] == "undecided"
        assert [s["element_id"] for s in plan.of_instance(session, lead)["steps"]].count("Task_receive_payment") == 1, \
            "the payment reminder loop counts once"
        won = {s["element_id"]: s for s in plan.preview(session, lead, {"deal_outcome": "won"})["steps"]}
        assert won["Task_issue_invoice"]["state"] == "planned" and "Task_record_loss" not in won, "the data decides"


def test_deploy_refuses_reminders_that_are_not_durations(app, team):
    bad = diagram("two_reminders.bpmn").replace(b'value="PT48H,PT24H"', b'value="PT48H,the day before"')
    reply = Api(app.test_client(), "admin").deploy(("two_reminders.bpmn", bad))
    assert reply.status_code == 422
    assert [(e["element_id"], e["message"]) for e in reply.get_json()["errors"]] == [
        ("Task_write_post", "reminders must be ISO durations before the due date, such as PT48H,PT24H "
                            "(not 'the day before')")]


def test_a_process_sets_the_reminders_of_its_steps(session, team):
    process_wide = diagram("two_reminders.bpmn").replace(
        b'<camunda:properties><camunda:property name="reminders" value="PT48H,PT24H" /></camunda:properties>', b"") \
        .replace(b'name="Social post" isExecutable="true">',
                 b'name="Social post" isExecutable="true"><bpmn:extensionElements><camunda:properties>'
                 b'<camunda:property name="reminders" value="P3D,PT2H" />'
                 b'</camunda:properties></bpmn:extensionElements>')
    definitions.deploy(session, [("two_reminders.bpmn", process_wide)], OPERATOR)
    with clock.frozen_at(T0):
        post = instances.start(session, "two_reminders", {"title": "Launch post", "publish_date": "2026-05-10"},
                               team["mia"])
        row = open_row(session, post, "Task_write_post")
    assert row.reminder_leads == [3 * 86400, 2 * 3600] and row.next_reminder_at == datetime(2026, 5, 7)


def _nested_bpmn(inner):
    """start (publish_date) → Brief → [inner: Draft, Edit] → Publish; `inner` is "embedded" or "call"."""
    steps = ('<bpmn:userTask id="Task_draft" name="Draft" camunda:dueDate="${publish_date - days(10)}" />'
             '<bpmn:userTask id="Task_edit" name="Edit" camunda:dueDate="${publish_date - days(5)}" />')
    flows = ('<bpmn:startEvent id="In_start" /><bpmn:endEvent id="In_end" />'
             '<bpmn:sequenceFlow id="I1" sourceRef="In_start" targetRef="Task_draft" />'
             '<bpmn:sequenceFlow id="I2" sourceRef="Task_draft" targetRef="Task_edit" />'
             '<bpmn:sequenceFlow id="I3" sourceRef="Task_edit" targetRef="In_end" />')
    middle = (f'<bpmn:subProcess id="Writing" name="Writing">{steps}{flows}</bpmn:subProcess>' if inner == "embedded"
              else '<bpmn:callActivity id="Writing" name="Writing" calledElement="writing_part" />')
    called = (f'<bpmn:process id="writing_part" isExecutable="true">{steps}{flows}</bpmn:process>'
              if inner == "call" else "")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Defs_nested" targetNamespace="http://baton.test">
  <bpmn:process id="nested_plan" isExecutable="true">
    <bpmn:startEvent id="Start_n"><bpmn:extensionElements><camunda:formData>
      <camunda:formField id="publish_date" label="Publish date" type="date" />
    </camunda:formData></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:userTask id="Task_brief" name="Brief" camunda:dueDate="${{publish_date - days(20)}}" />
    {middle}
    <bpmn:userTask id="Task_publish" name="Publish" camunda:dueDate="${{publish_date}}" />
    <bpmn:endEvent id="End_n" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start_n" targetRef="Task_brief" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_brief" targetRef="Writing" />
    <bpmn:sequenceFlow id="F3" sourceRef="Writing" targetRef="Task_publish" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_publish" targetRef="End_n" />
  </bpmn:process>{called}
</bpmn:definitions>""".encode()


@pytest.mark.parametrize("inner", ["embedded", "call"])
def test_the_plan_enters_sub_processes_and_called_processes(session, team, inner):
    from engine import plan
    definitions.deploy(session, [("nested.bpmn", _nested_bpmn(inner))], OPERATOR)
    with clock.frozen_at(T0):
        instance = instances.start(session, "nested_plan", {"publish_date": "2026-06-30"}, team["mia"])
        steps = plan.of_instance(session, instance)["steps"]
        assert [(s["element_id"], s["state"], s["planned_due"]) for s in steps] == [
            ("Task_brief", "open", datetime(2026, 6, 10)), ("Task_draft", "planned", datetime(2026, 6, 20)),
            ("Task_edit", "planned", datetime(2026, 6, 25)), ("Task_publish", "planned", datetime(2026, 6, 30))]
        do(session, instance, "Task_brief", team["mia"], {})
        steps = plan.of_instance(session, instance)["steps"]
        assert [(s["element_id"], s["state"]) for s in steps] == [
            ("Task_brief", "done"), ("Task_draft", "open"), ("Task_edit", "planned"), ("Task_publish", "planned")]
