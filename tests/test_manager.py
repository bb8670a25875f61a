"""The manager's side: who sees what, the overview with nudge and reassign, the instance list, the
board, the analytics (every figure checked against a history of known durations), CSV and calendar
exports. The history is `manager_story`."""
import csv
import io
import re
from datetime import datetime, timedelta

import icalendar
import pytest
from conftest import PASSWORD
from manager_story import NOW, T0, build
from sqlalchemy import select

from engine import clock, tasks, worker
from engine.insight import snapshots
from engine.models import Event, Notification

H = 3600


@pytest.fixture
def story(session, people):
    with clock.frozen_at(T0):
        yield build(session, people)


def ids(reply):
    return {row["id"] for row in reply.get_json()}


# ---- who sees what ------------------------------------------------------------------------------

def test_people_see_the_instances_they_take_part_in_and_managers_see_all(api, story):
    s = story
    ours = {s.a, s.b, s.c, s.d, s.e, s.f}
    assert ids(api["mia"].get("/instances?limit=100")) == ours | {s.failed}, "the manager sees every instance"
    assert ids(api["admin"].get("/instances?limit=100")) == ours | {s.failed}
    assert ids(api["walt"].get("/instances?limit=100")) == {s.a, s.b, s.c, s.d, s.f}, \
        "acted on A and B, started C, may do D's and F's drafts"
    assert ids(api["wendy"].get("/instances?limit=100")) == {s.d, s.e, s.f}, \
        "C's draft is claimed by walt: not a task wendy may do"
    assert ids(api["dora"].get("/instances?limit=100")) == {s.a, s.b, s.e}
    assert api["nobody"].get("/instances").get_json() == []
    assert api["wendy"].get(f"/instances/{s.d}").status_code == 200, "an open task she may do lets her read it"
    assert api["wendy"].get(f"/instances/{s.c}").status_code == 403
    assert api["mia"].get(f"/instances/{s.c}").status_code == 200, "managers read instances they never touched"


def test_managers_and_admins_see_claimed_tasks_others_do_not(api, story):
    def task_ids(who):
        return {t["id"] for t in api[who].get("/tasks?tab=all&limit=500").get_json()}

    assert story.c_draft in task_ids("mia") and story.c_draft in task_ids("admin")
    assert story.c_draft in task_ids("walt"), "the claimer keeps it"
    assert story.c_draft not in task_ids("wendy"), "claimed by someone else: not in a writer's inbox"
    assert task_ids("mia") == {story.c_draft, story.d_draft, story.f_draft}
    assert int(api["mia"].get("/tasks?tab=all").headers["X-Total-Count"]) == 3
    assert {t["id"] for t in api["mia"].get("/tasks?tab=all&q=christmas").get_json()} == {story.c_draft}, \
        "search finds claimed tasks too"
    assert api["mia"].get(f"/tasks/{story.c_draft}").get_json()["claimed_by"] == "walt"


def test_the_manager_role_is_configurable(api, story, monkeypatch):
    monkeypatch.setenv("BATON_MANAGER_ROLE", "designer")
    assert ids(api["dora"].get("/instances?limit=100")) == {story.a, story.b, story.c, story.d, story.e, story.f,
                                                            story.failed}
    assert api["mia"].get("/overview").status_code == 403


# ---- overview, nudge, reassign -------------------------------------------------------------------

def test_the_overview_lists_late_work_with_its_holder(api, story):
    for absurd in (0, -5, 10 ** 10):
        refused = api["mia"].get(f"/overview?stalled_days={absurd}")
        assert refused.status_code == 422 and refused.get_json()["errors"] == [
            {"field": "stalled_days", "message": "must be a whole number of days from 1 to 3660"}], absurd
    view = api["mia"].get("/overview?stalled_days=1").get_json()
    overdue = {t["task_id"]: t for t in view["overdue"]}
    assert set(overdue) == {story.c_draft, story.d_draft}
    assert overdue[story.c_draft] == {
        "task_id": story.c_draft, "instance_id": story.c, "process_key": "manager_review",
        "label": "Christmas teaser", "name": "Write the draft", "owner": "walt", "due_at": "2026-11-10T09:00:00",
        "held_since": "2026-11-09T10:00:00"}
    assert overdue[story.d_draft]["owner"] == "writer" and overdue[story.d_draft]["held_since"] == "2026-11-09T09:00:00"
    assert [t["task_id"] for t in view["due_soon"]] == [story.f_draft]
    assert [i["instance_id"] for i in view["stalled"]] == [story.c, story.d], "no change since Monday 09:00"
    assert [(i["instance_id"], i["element_id"]) for i in view["failed"]] == [(story.failed, "Script_payload")]
    assert view["by_owner"] == [{"owner": "writer", "kind": "role", "open": 2, "overdue": 1},
                                {"owner": "walt", "kind": "person", "open": 1, "overdue": 1}], "most late work first"
    assert api["mia"].get("/overview").get_json()["stalled"] == [], "seven days by default"
    assert api["walt"].get("/overview").status_code == 403


def _notices(session, task_id, kind):
    session.expire_all()
    return sorted((n.channel, n.recipient) for n in session.scalars(
        select(Notification).where(Notification.task_id == task_id, Notification.kind == kind)))


def test_a_nudge_reminds_the_holder_now_through_their_channels(api, session, story):
    assert api["mia"].post(f"/tasks/{story.c_draft}/nudge").status_code == 200
    assert _notices(session, story.c_draft, "nudge") == [("app", "walt")], "the claimer, in the app (no email set)"
    api["admin"].post(f"/tasks/{story.d_draft}/nudge")
    assert _notices(session, story.d_draft, "nudge") == [("app", "walt"), ("app", "wendy")], "everyone in the role"
    nudged = session.scalars(select(Event).where(Event.type == "task_nudged")).all()
    assert [(e.task_id, e.user) for e in nudged] == [(story.c_draft, "mia"), (story.d_draft, "admin")]
    assert api["walt"].post(f"/tasks/{story.d_draft}/nudge").status_code == 403
    assert _notices(session, story.d_draft, "nudge") == [("app", "walt"), ("app", "wendy")]


def test_reassign_hands_the_task_to_someone_with_its_roles(api, session, story):
    refused = api["mia"].post(f"/tasks/{story.d_draft}/assign", json={"user": "dora"})
    assert refused.status_code == 422 and "lacks the task's roles" in refused.get_json()["errors"][0]["message"] \
        or refused.get_json()["errors"][0]["field"] == "user"
    assert api["mia"].post(f"/tasks/{story.d_draft}/assign", json={"user": "ghost"}).status_code == 422
    assert api["walt"].post(f"/tasks/{story.d_draft}/assign", json={"user": "wendy"}).status_code == 403
    handed = api["mia"].post(f"/tasks/{story.d_draft}/assign", json={"user": "wendy"})
    assert handed.status_code == 200 and handed.get_json()["owner"] == "wendy"
    assert story.d_draft in {t["id"] for t in api["wendy"].get("/tasks?tab=mine").get_json()}
    assert story.d_draft not in {t["id"] for t in api["walt"].get("/tasks?tab=all").get_json()}
    assert _notices(session, story.d_draft, "task_assigned") == [("app", "wendy")]
    assert api["wendy"].post(f"/tasks/{story.d_draft}/complete", json={"data": {}}).status_code == 200
    assert api["mia"].post(f"/tasks/{story.d_draft}/assign", json={"user": "walt"}).status_code == 409


# ---- instances list ------------------------------------------------------------------------------

def test_the_instance_list_filters_searches_and_pages(api, story):
    mia = api["mia"]
    assert ids(mia.get("/instances?process=manager_review&version=1")) == {story.a, story.b, story.c, story.d}
    assert ids(mia.get("/instances?status=completed")) == {story.a, story.b, story.e}
    assert ids(mia.get("/instances?overdue=true")) == {story.c, story.d}
    assert ids(mia.get("/instances?step=Task_draft")) == {story.c, story.d, story.f}
    assert ids(mia.get("/instances?role=writer")) == {story.c, story.d, story.f}
    assert ids(mia.get("/instances?started_by=walt")) == {story.c}
    in_week_two = mia.get("/instances?from=2026-11-09&to=2026-11-10&process=manager_review")
    assert ids(in_week_two) == {story.c, story.d, story.e}
    assert ids(mia.get("/instances?q=LOYAL")) == {story.a}, "search reads the data too"
    assert ids(mia.get("/instances?q=friday")) == {story.b}
    first = mia.get("/instances?limit=2")
    assert first.headers["X-Total-Count"] == "7" and [r["id"] for r in first.get_json()] == [story.failed, story.f]
    assert [r["id"] for r in mia.get("/instances?limit=2&offset=2").get_json()] == [story.e, story.d]
    row = next(r for r in mia.get("/instances?q=christmas").get_json())
    assert row["current"] == [{"task_id": story.c_draft, "element_id": "Task_draft", "name": "Write the draft",
                               "owner": "walt", "due_at": "2026-11-10T09:00:00"}]
    assert (row["status"], row["started_by"], row["created_at"], row["ended_at"]) == \
        ("running", "walt", "2026-11-09T09:00:00", None)


def _read_csv(reply):
    body = reply.get_data()
    assert reply.mimetype == "text/csv" and body.startswith("\ufeff".encode()), "UTF-8 with a BOM, for Excel"
    assert b"\r\n" in body
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_lists_download_as_csv(api, story):
    rows = _read_csv(api["mia"].get("/instances?format=csv&process=manager_review&version=1"))
    assert [int(r["id"]) for r in rows] == [story.d, story.c, story.b, story.a]
    assert rows[2] == {"id": str(story.b), "process": "manager_review", "version": "1", "label": "Black Friday",
                       "status": "completed", "started_by": "mia", "created_at": "2026-11-03T09:00:00",
                       "ended_at": "2026-11-04T18:00:00", "current_steps": ""}
    assert rows[1]["current_steps"] == "Write the draft (walt)"
    tasks = _read_csv(api["walt"].get("/tasks?format=csv"))
    assert {t["id"] for t in tasks} == {story.c_draft, story.d_draft, story.f_draft}
    assert next(t for t in tasks if t["id"] == story.c_draft)["due_at"] == "2026-11-10T09:00:00"
    steps = _read_csv(api["mia"].get("/processes/manager_review/analytics?version=1&format=csv"))
    assert [(s["step"], s["runs"], s["rework"], s["total_s_median"], s["overdue_share"], s["estimate_s"])
            for s in steps] == [("Write the draft", "3", "1", "18000", str(1 / 3), "14400.0"),
                                ("Review the draft", "3", "1", "10800", str(1 / 3), "")]


# ---- board ---------------------------------------------------------------------------------------

def test_the_board_has_a_column_per_step_in_flow_order(api, story):
    board = api["mia"].get("/processes/manager_review/board").get_json()
    assert [c["element_id"] for c in board["columns"]] == ["Task_draft", "Task_review"]
    cards = board["columns"][0]["cards"]
    assert [c["instance_id"] for c in cards] == [story.c, story.d, story.f] or \
        [c["instance_id"] for c in cards] == [story.d, story.c, story.f], "by due date"
    by_instance = {c["instance_id"]: c for c in cards}
    assert by_instance[story.c]["owner"] == "walt" and by_instance[story.c]["overdue"] is True
    assert by_instance[story.f] == {"instance_id": story.f, "task_id": story.f_draft, "label": "February webinar",
                                    "owner": "writer", "due_at": "2026-11-11T13:00:00", "overdue": False,
                                    "started_at": "2026-11-10T13:00:00", "waiting_since": "2026-11-10T13:00:00"}
    assert board["columns"][1]["cards"] == []
    wendy = api["wendy"].get("/processes/manager_review/board").get_json()
    assert [c["instance_id"] for c in wendy["columns"][0]["cards"]] == [story.d, story.f], "cards she may see"
    assert api["dora"].get("/processes/manager_review/board").get_json()["columns"][0]["cards"] == []
    assert api["mia"].get("/processes/nothing/board").status_code == 404


# ---- analytics -----------------------------------------------------------------------------------

def test_analytics_figures_are_exact(api, story):
    result = api["mia"].get("/processes/manager_review/analytics?version=1").get_json()
    assert result["instances"] == {"started": 4, "completed": 2, "running": 2, "failed": 0}
    assert result["cycle_time_s"] == {"median": 26.5 * H, "p90": 33 * H}
    assert result["weekly"] == [{"week": "2026-11-02", "started": 2, "completed": 2, "failed": 0, "running": 0},
                                {"week": "2026-11-09", "started": 2, "completed": 0, "failed": 0, "running": 2}]
    draft, review = result["steps"]
    assert draft == {"element_id": "Task_draft", "name": "Write the draft", "runs": 3, "rework": 1,
                     "wait_s": {"median": 1 * H, "p90": 30 * H}, "work_s": {"median": 3 * H, "p90": 4 * H},
                     "total_s": {"median": 5 * H, "p90": 30 * H}, "overdue_share": 1 / 3, "estimate_s": 4 * H}
    assert review == {"element_id": "Task_review", "name": "Review the draft", "runs": 3, "rework": 1,
                      "wait_s": {"median": 2 * H, "p90": 2 * H}, "work_s": {"median": 5 * H, "p90": 8 * H},
                      "total_s": {"median": 3 * H, "p90": 10 * H}, "overdue_share": 1 / 3, "estimate_s": None}


def test_analytics_of_the_newest_version_and_of_a_version_without_runs(api, story):
    newest = api["dora"].get("/processes/manager_review/analytics").get_json()
    assert newest["version"] == 2 and newest["instances"] == {"started": 2, "completed": 1, "running": 1, "failed": 0}
    assert newest["cycle_time_s"] == {"median": 2 * H, "p90": 2 * H}
    assert [(s["runs"], s["rework"], s["wait_s"], s["work_s"]) for s in newest["steps"]] == [
        (1, 0, {"median": H, "p90": H}, {"median": None, "p90": None}),
        (1, 0, {"median": H, "p90": H}, {"median": None, "p90": None})]
    assert [s["overdue_share"] for s in newest["steps"]] == [0, 0]
    failed = api["mia"].get("/processes/needs_data/analytics").get_json()
    assert failed["instances"]["failed"] == 1 and failed["cycle_time_s"] == {"median": None, "p90": None}
    assert failed["weekly"] == [{"week": "2026-11-09", "started": 1, "completed": 0, "failed": 1, "running": 0}]
    assert api["mia"].get("/processes/manager_review/analytics?version=9").status_code == 404


def test_a_big_version_is_answered_from_the_figures_the_worker_keeps(app, api, story, session, people, monkeypatch):
    """Past BATON_ANALYTICS_LIVE_LIMIT completed steps (here 2) a version's figures come from the worker's
    last computation, which says when it was made and is redone once its instances change and
    BATON_ANALYTICS_REFRESH_SECONDS have passed; below the limit they are computed on each request."""
    def figures():
        return api["mia"].get("/processes/manager_review/analytics?version=1").get_json()

    def draft_runs(result):
        return result["steps"][0]["runs"]

    live = figures()
    assert live["as_of"] is None and draft_runs(live) == 3
    monkeypatch.setattr(snapshots, "LIVE_LIMIT", 2)
    assert figures()["as_of"] is None, "nothing kept yet: computed on request"
    first = NOW + timedelta(minutes=1)
    with clock.frozen_at(first):
        assert worker.run_once(session)["analytics"] == 3, "both versions of the blog post and the failed process"
    kept = figures()
    assert kept["as_of"] == first.isoformat() and {**kept, "as_of": None} == live
    with clock.frozen_at(first + timedelta(minutes=2)):
        tasks.complete(session, story.c_draft, people["walt"], {})
        assert draft_runs(figures()) == 3, "kept figures wait for the next refresh"
        assert worker.run_once(session)["analytics"] == 0, "not due yet"
    later = first + timedelta(seconds=snapshots.REFRESH_SECONDS + 1)
    with clock.frozen_at(later):
        assert worker.run_once(session)["analytics"] == 1, "only version 1 changed; the others are only re-dated"
    assert figures()["as_of"] == later.isoformat() and draft_runs(figures()) == 4
    page = _signed_in(app, "mia").get("/processes/manager_review/analytics?version=1").get_data(as_text=True)
    assert f"Figures as of <time datetime=\"{later.isoformat()}\">{later:%d %b %Y, %H:%M}</time>" in page
    monkeypatch.setattr(snapshots, "LIVE_LIMIT", 50_000)
    assert figures()["as_of"] is None and draft_runs(figures()) == 4


def test_the_analytics_page_sets_two_versions_side_by_side(app, story):
    client = _signed_in(app, "mia")
    page = client.get("/processes/manager_review/analytics?version=2&compare=1").get_data(as_text=True)
    assert 'data-figure="cycle-median">2 h<' in page
    draft = re.search(r'data-element="Task_draft">(.*?)</tr>', page, re.S).group(1)
    assert "1 h / 1 h" in draft and "4 h" in draft and "4 h faster" in draft, "total median 1 h against 5 h"
    heat = client.get("/processes/manager_review/heatmap.json?version=1&figure=total_p90").get_json()
    assert heat == {"figure": "total_p90", "label": "Total time, p90", "unit": "seconds",
                    "values": {"Task_draft": 30 * H, "Task_review": 10 * H}}


# ---- pages ---------------------------------------------------------------------------------------

def _signed_in(app, username):
    client = app.test_client()
    signed_in = client.post("/login", data={"username": username, "password": PASSWORD,
                                            "csrf_token": _csrf(client, "/login")})
    assert signed_in.status_code == 302
    return client


def _csrf(client, page):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).get_data(as_text=True)).group(1)


def test_the_overview_page_nudges_and_reassigns(app, session, story):
    client = _signed_in(app, "mia")
    page = client.get("/overview").get_data(as_text=True)
    assert 'id="overdue-count">2<' in page and "Christmas teaser" in page and "December newsletter" in page
    choices = re.search(rf'id="to-{story.d_draft}" name="user">(.*?)</select>', page).group(1)
    assert re.findall(r"<option[^>]*>([^<]+)<", choices) == ["admin", "walt", "wendy"], "only people who may do it"
    token = _csrf(client, "/overview")
    reply = client.post(f"/overview/tasks/{story.d_draft}/assign", data={"user": "wendy", "csrf_token": token},
                        follow_redirects=True)
    assert "is now with wendy" in reply.get_data(as_text=True)
    client.post(f"/overview/tasks/{story.d_draft}/nudge", data={"csrf_token": token})
    assert _notices(session, story.d_draft, "nudge") == [("app", "wendy")], "the new holder is reminded"
    assert client.post(f"/overview/tasks/{story.d_draft}/nudge", data={}).status_code == 400, "CSRF is checked"
    assert _signed_in(app, "walt").get("/overview").status_code == 403


def test_the_instances_page_filters_and_admins_cancel_several(app, story):
    walt = _signed_in(app, "walt")
    page = walt.get("/instances/?overdue=true").get_data(as_text=True)
    assert "Christmas teaser" in page and "December newsletter" in page and "Black Friday" not in page
    assert [r["label"] for r in _read_csv(walt.get("/instances/?overdue=true&format=csv"))] == \
        ["December newsletter", "Christmas teaser"], "the page downloads what it shows"
    admin = _signed_in(app, "admin")
    token = _csrf(admin, "/instances/")
    reply = admin.post("/instances/cancel", data={"instance_id": [str(story.c), str(story.d), str(story.a)],
                                                  "csrf_token": token}, follow_redirects=True)
    assert "Cancelled 2 instances" in reply.get_data(as_text=True)
    assert "id=\"instance-total\">2 instances" in admin.get("/instances/?status=cancelled").get_data(as_text=True)


# ---- calendar ------------------------------------------------------------------------------------

def test_the_calendar_feed_lists_my_due_tasks_with_an_alarm(app, story):
    client = _signed_in(app, "walt")
    url = re.search(r'id="feed-url">([^<]+)<', client.get("/profile").get_data(as_text=True)).group(1)
    path = url.removeprefix("http://localhost")
    anonymous = app.test_client()
    reply = anonymous.get(path)
    assert reply.status_code == 200 and reply.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(reply.get_data())
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"task-{t}@baton" for t in (story.c_draft, story.d_draft, story.f_draft)}
    christmas = events[f"task-{story.c_draft}@baton"]
    assert christmas.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 11, 10, 9, 0)
    assert str(christmas["SUMMARY"]) == "Write the draft — Christmas teaser"
    alarm = christmas.walk("VALARM")[0]
    assert alarm.decoded("TRIGGER") == -timedelta(hours=24) and str(alarm["ACTION"]) == "DISPLAY"
    client.post("/profile/calendar", data={"csrf_token": _csrf(client, "/profile")})
    assert anonymous.get(path).status_code == 404, "a renewed address replaces the old one"
    renewed = re.search(r'id="feed-url">([^<]+)<', client.get("/profile").get_data(as_text=True)).group(1)
    assert renewed != url and anonymous.get(renewed.removeprefix("http://localhost")).status_code == 200
    assert anonymous.get("/calendar/guess.ics").status_code == 404
