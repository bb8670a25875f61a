"""The inbox lists: a person's tabs are merged from the candidate rows of their keys (a role, another
role, their name, everyone); every task appears once, in due-date order, on the right tab, and the
pages and counts agree with the general query that filters and admins use."""
import random
from datetime import datetime

import pytest
from conftest import OPERATOR
from sqlalchemy import bindparam, select, text

from engine import clock, database, definitions, driver, history, instances, tasks, workflow_cache
from engine.access import Actor
from engine.errors import Conflict
from engine.models import Event, HumanTask, Instance, TaskCandidate

SPLIT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_split" targetNamespace="http://baton.example/bpmn">
  <bpmn:process id="fan_out" name="Fan out" isExecutable="true">
    <bpmn:startEvent id="Start_fan" />
    <bpmn:sequenceFlow id="Flow_start" sourceRef="Start_fan" targetRef="Split" />
    <bpmn:parallelGateway id="Split" />
    {tasks}
  </bpmn:process>
</bpmn:definitions>
"""
TASKS = {   # element id → (who may do it, due after)
    "Task_writer": ('camunda:candidateGroups="writer"', "P4D"),
    "Task_designer": ('camunda:candidateGroups="designer"', "P2D"),
    "Task_both": ('camunda:candidateGroups="writer, designer"', "P1D"),
    "Task_named": ('camunda:assignee="walt"', "P3D"),
    "Task_anyone": ("", None),
    "Task_other": ('camunda:candidateGroups="finance"', "P1D"),
}


def fan_out_bpmn():
    parts = []
    for element, (who, due) in TASKS.items():
        due_attribute = f' camunda:dueDate="{due}"' if due else ""
        parts.append(f'<bpmn:sequenceFlow id="Flow_{element}" sourceRef="Split" targetRef="{element}" />'
                     f'<bpmn:userTask id="{element}" name="{element}" {who}{due_attribute} />')
    return SPLIT.format(tasks="\n    ".join(parts)).encode()


WALT = Actor("walt", frozenset({"writer", "designer"}))


@pytest.fixture
def fanned_out(session):
    """Three instances of six tasks each, started a minute apart."""
    definitions.deploy(session, [("fan_out.bpmn", fan_out_bpmn())], OPERATOR)
    start = clock.now()
    for minute in range(3):
        with clock.frozen_at(start.replace(microsecond=0).replace(second=minute)):
            instances.start(session, "fan_out", {}, OPERATOR)
    return session


def elements(rows):
    return [row.element_id for row in rows]


def general_page(session, actor, tab, limit, offset):
    """What the general query (the one filters and admins use) lists for the tab."""
    return session.scalars(tasks.open_query(actor, tab).order_by(
        tasks.HumanTask.due_at.is_(None), tasks.HumanTask.due_at, tasks.HumanTask.created_at, tasks.HumanTask.id)
        .limit(limit).offset(offset)).all()


def test_each_task_once_in_due_order_on_its_tabs(fanned_out):
    session = fanned_out
    everything = tasks.open_page(session, WALT, "all", limit=100)
    assert elements(everything) == ["Task_both"] * 3 + ["Task_designer"] * 3 + ["Task_named"] * 3 + \
        ["Task_writer"] * 3 + ["Task_anyone"] * 3, "due soonest first, none last, each task once"
    assert "Task_anyone" not in elements(tasks.open_page(session, WALT, "roles", limit=100))
    assert elements(tasks.open_page(session, WALT, "mine", limit=100)) == ["Task_named"] * 3
    assert tasks.counts(session, WALT) == {"mine": 3, "roles": 12, "all": 15}
    pages = [tasks.open_page(session, WALT, "all", limit=4, offset=offset) for offset in range(0, 16, 4)]
    assert [row.id for page in pages for row in page] == [row.id for row in everything]


def test_claims_move_tasks_between_people(fanned_out):
    session = fanned_out
    wendy = Actor("wendy", frozenset({"writer"}))
    (both, *_) = [row for row in tasks.open_page(session, wendy, "all", limit=100) if row.element_id == "Task_both"]
    tasks.claim(session, both.id, wendy)
    assert both.id not in {row.id for row in tasks.open_page(session, WALT, "all", limit=100)}
    assert tasks.counts(session, WALT)["all"] == 14
    assert both.id in {row.id for row in tasks.open_page(session, wendy, "mine", limit=100)}
    assert tasks.counts(session, wendy)["all"] == 9, "her own claim stays in her inbox"
    tasks.unclaim(session, both.id, wendy)
    assert tasks.counts(session, WALT)["all"] == 15
    tasks.complete(session, both.id, wendy, {})
    assert both.id not in {row.id for row in tasks.open_page(session, WALT, "all", limit=100)}
    assert tasks.counts(session, WALT)["all"] == 14


PEOPLE = [WALT, Actor("wendy", frozenset({"writer"})), Actor("fred", frozenset({"finance"})), Actor("nobody"),
          Actor("dora", frozenset({"designer", "finance"}))]


def assert_counts_agree(session):
    """Every tab size, added up from the counts kept per key, is what counting the tab's tasks gives."""
    for actor in PEOPLE:
        for tab in ("roles", "all"):
            assert tasks.counts(session, actor)[tab] == len(general_page(session, actor, tab, 1000, 0)), (actor, tab)


def test_the_merged_pages_agree_with_the_general_query(fanned_out):
    session = fanned_out
    rng = random.Random(7)
    rows = tasks.open_page(session, Actor("admin", admin=True), "all", limit=100)
    for row in rng.sample(rows, 4):   # some tasks taken by someone, for the tabs to leave out
        tasks.claim(session, row.id, Actor(rng.choice(["walt", "wendy", "ann"]), admin=True))
    for actor in PEOPLE:
        for tab in ("roles", "all"):
            for limit, offset in ((100, 0), (3, 0), (3, 3), (5, 10), (4, 17)):
                assert [r.id for r in tasks.open_page(session, actor, tab, limit, offset)] == \
                    [r.id for r in general_page(session, actor, tab, limit, offset)], (actor, tab, limit, offset)
    assert_counts_agree(session)


def test_the_tab_counts_follow_every_change_of_the_open_tasks(fanned_out):
    """The tab sizes come from counts each change keeps per key: after claims (also of shared tasks and
    one's own), completions, an instance cancelled and a new one started, they are still what counting
    the tasks gives, for every person and tab."""
    session = fanned_out
    admin = Actor("admin", admin=True)
    first, second, third = sorted(set(session.scalars(select(HumanTask.instance_id))))

    def task(instance_id, element_id):
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.element_id == element_id))
    tasks.claim(session, task(first, "Task_writer"), PEOPLE[1])
    tasks.claim(session, task(first, "Task_both"), WALT)
    tasks.claim(session, task(second, "Task_both"), Actor("ann", admin=True))
    tasks.claim(session, task(second, "Task_anyone"), PEOPLE[2])
    assert_counts_agree(session)
    tasks.complete(session, task(first, "Task_writer"), PEOPLE[1], {})
    tasks.complete(session, task(first, "Task_both"), WALT, {})
    tasks.complete(session, task(third, "Task_named"), WALT, {})
    tasks.complete(session, task(third, "Task_designer"), PEOPLE[4], {})
    assert_counts_agree(session)
    tasks.unclaim(session, task(second, "Task_anyone"), PEOPLE[2])
    instances.cancel(session, second, admin)
    assert_counts_agree(session)
    instances.start(session, "fan_out", {}, OPERATOR)
    assert tasks.counts(session, PEOPLE[2]) == {"mine": 0, "roles": 3, "all": 6}, \
        "fred: the finance and everyone's tasks of the three running instances"
    assert_counts_agree(session)


@pytest.mark.parametrize("kept", [True, False], ids=["workflow kept in memory", "workflow read from its row"])
def test_each_completion_leaves_exactly_the_other_tasks_open(fanned_out, kept):
    """A change that starts from the workflow this process kept takes the instance's open task rows from
    memory too; from memory or from the row, the tasks left open and their inbox rows are exactly the
    ones not done yet."""
    session = fanned_out
    instance_id = min(session.scalars(select(HumanTask.instance_id)))
    left = set(TASKS)

    def open_rows():
        return session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                       HumanTask.state == "open")).all()
    while left:
        if not kept:
            workflow_cache.clear()   # as in another process, or after a restart
        row = min(open_rows(), key=lambda r: r.element_id)
        tasks.complete(session, row.id, OPERATOR, {})
        left.discard(row.element_id)
        still_open = open_rows()
        assert sorted(elements(still_open)) == sorted(left)
        in_inbox = session.scalars(select(TaskCandidate.task_id).join(HumanTask)
                                   .where(HumanTask.instance_id == instance_id)).all()
        assert set(in_inbox) == {r.id for r in still_open}


HANDOVER = SPLIT.replace("fan_out", "handover").replace('<bpmn:parallelGateway id="Split" />', "").format(tasks="""
    <bpmn:userTask id="Task_draft" name="Draft" camunda:candidateGroups="writer" />
    <bpmn:sequenceFlow id="Flow_next" sourceRef="Task_draft" targetRef="Task_check" />
    <bpmn:userTask id="Task_check" name="Check" camunda:candidateGroups="designer" camunda:dueDate="P2D" />
    <bpmn:sequenceFlow id="Flow_end" sourceRef="Task_check" targetRef="End_handover" />
    <bpmn:endEvent id="End_handover" />""").replace('targetRef="Split"', 'targetRef="Task_draft"').encode()


def test_the_reply_to_a_change_shows_the_open_tasks_as_a_fresh_read_does(fanned_out, db_url):
    """The reply to a completion lists the instance's open tasks from what the change wrote when it
    opened every one of them, and reads them when a task left open may have changed meanwhile: claimed in
    another session, or claimed in the same one after the change. Either way, what a fresh read shows."""
    session, other = fanned_out, database.connect(db_url)()

    def fresh(instance_id):
        other.expire_all()
        return instances.describe(other, other.get(Instance, instance_id))

    definitions.deploy(session, [("handover.bpmn", HANDOVER)], OPERATOR)
    handover = instances.start(session, "handover", {}, OPERATOR)
    draft = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == handover.id))
    tasks.complete(session, draft, WALT, {})
    shown = instances.describe(session, handover)
    assert [(t["element_id"], t["claimed_by"]) for t in shown["tasks"]] == [("Task_check", None)]
    assert shown == fresh(handover.id)
    tasks.complete(session, shown["tasks"][0]["id"], WALT, {})
    assert instances.describe(session, handover) == fresh(handover.id) and handover.status == "completed"

    again = instances.start(session, "handover", {}, OPERATOR)
    tasks.complete(session, session.scalar(select(HumanTask.id).where(HumanTask.instance_id == again.id)), WALT, {})
    check = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == again.id, HumanTask.state == "open"))
    tasks.claim(session, check, WALT)
    assert [t["claimed_by"] for t in instances.describe(session, again)["tasks"]] == ["walt"], \
        "a claim after the change shows"

    fan = min(session.scalars(select(HumanTask.instance_id).where(HumanTask.process_key == "fan_out")))
    writer_task, designer_task = (session.scalar(select(HumanTask.id).where(
        HumanTask.instance_id == fan, HumanTask.element_id == element)) for element in ("Task_writer", "Task_designer"))
    tasks.claim(other, designer_task, Actor("dora", frozenset({"designer"})))
    shown = instances.describe(session, tasks.complete(session, writer_task, WALT, {}))
    assert {t["element_id"]: t["claimed_by"] for t in shown["tasks"]}["Task_designer"] == "dora", \
        "a task left open shows as it is now, claimed in another session"
    assert shown == fresh(fan)
    other.close()


def test_rows_written_on_the_driver_cursor_read_back_as_sqlalchemy_writes_them(fanned_out):
    """The change's writes and the hot reads skip SQLAlchemy's execution (engine/driver.py) but not its
    types: dates with and without microseconds, JSON with nested and missing values, booleans and NULLs
    read back the same as rows SQLAlchemy itself inserted, the driver's reads return what SQLAlchemy
    returns, and a DELETE run for several rows reports the rows it matched."""
    session = fanned_out
    instance_id = session.scalars(select(HumanTask.instance_id)).first()
    rows = [{"instance_id": instance_id, "at": datetime(2026, 12, 2, 9, 30), "type": "probe", "element_id": None,
             "task_id": "t-1", "user": "zoë", "data": {"list": [1, "é", None], "flag": True, "none": None}},
            {"instance_id": instance_id, "at": datetime(2026, 12, 2, 9, 30, 0, 123456), "type": "probe",
             "element_id": "Task_x", "task_id": None, "user": None, "data": None}]
    connection = session.connection()
    driver.write(connection, history._APPEND, rows)
    connection.execute(history._APPEND, rows)
    stored = session.execute(select(Event.at, Event.element_id, Event.task_id, Event.user, Event.data)
                             .where(Event.type == "probe").order_by(Event.id)).all()
    expected = [(r["at"], r["element_id"], r["task_id"], r["user"], r["data"]) for r in rows]
    assert [tuple(row) for row in stored] == expected + expected
    probes = (select(Event.at, Event.element_id, Event.task_id, Event.user, Event.data)
              .where(Event.type == bindparam("type")).order_by(Event.id))
    read = driver.read(connection, probes, {"type": "probe"})
    assert read == [tuple(row) for row in stored] and [row.data for row in read] == [r["data"] for r in rows] * 2
    as_stored = session.execute(text("SELECT CAST(at AS TEXT), CAST(data AS TEXT) FROM events WHERE type = 'probe' "
                                     "ORDER BY id")).all()
    assert as_stored[:2] == as_stored[2:], "the same text in the database, not only the same values read back"

    task_id = session.scalars(select(HumanTask.id).where(HumanTask.element_id == "Task_both")).first()
    shared = session.scalars(select(TaskCandidate.shared).where(TaskCandidate.task_id == task_id)).all()
    assert shared == [True, True]
    assert driver.read(connection, select(TaskCandidate.shared, TaskCandidate.claimed_by)
                       .where(TaskCandidate.task_id == bindparam("task_id")), {"task_id": task_id}) == [(True, None)] * 2
    matched = driver.write(connection, instances._CLOSE_CANDIDATES, [{"leaving_id": task_id}, {"leaving_id": "none"}])
    assert matched == 2 and not session.scalars(select(TaskCandidate.key).where(TaskCandidate.task_id == task_id)).all()
    session.rollback()


def test_a_completion_after_another_change_of_its_instance_is_a_conflict_that_says_so(fanned_out, db_url):
    """Walt opened one task of an instance; meanwhile another of its tasks was completed. His completion
    takes his task (nobody else holds it) but finds the instance changed: a Conflict that says the
    instance changed, not the task, and nothing of it is stored."""
    session = fanned_out
    instance_id = session.scalars(select(HumanTask.instance_id)).first()
    writer_task, designer_task = (session.scalar(select(HumanTask.id).where(
        HumanTask.instance_id == instance_id, HumanTask.element_id == element)) for element in ("Task_writer",
                                                                                               "Task_designer"))
    other = database.connect(db_url)()
    held, _instance = tasks.get_with_instance(other, writer_task)   # walt's session holds both, as read then
    tasks.complete(session, designer_task, WALT, {})
    with pytest.raises(Conflict, match=f"instance {instance_id} was changed by someone else meanwhile"):
        tasks.complete(other, writer_task, WALT, {})
    assert held.state == "open" and held.completed_by is None, "walt's session sees his task as it is"
    other.close()
    session.expire_all()
    assert session.get(HumanTask, writer_task).state == "open"
    assert session.scalar(select(TaskCandidate.key).where(TaskCandidate.task_id == writer_task)) == "role:writer"
    assert not session.scalars(select(Event).where(Event.task_id == writer_task, Event.type == "task_completed")).all()
    assert_counts_agree(session)
