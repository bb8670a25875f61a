"""Hardening, round two (issue 27): what a diagram or a form may ask of the server is bounded.

Every case is played through the HTTP API against the real engine and database (SQLite and
PostgreSQL, each case on both): a value from a start form or a script that would hold a
thread for seconds or days, fan out into tens of thousands of tasks or make a timer fire without
pause becomes a failed instance with an incident naming the element; the same value written in the
diagram is refused at deploy; deploy stays linear in the problems it finds and lists a bounded number.
"""
import json
import re
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

import contract
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from conftest import PASSWORD, Api, make_app
from sqlalchemy import create_engine, func, select, text

from engine import (
    bounds,
    clock,
    credentials,
    database,
    definitions,
    login_throttle,
    notifications,
    sandbox,
    users,
    worker,
)
from engine.models import HumanTask, LoginFailure, Notification, User
from web import cli

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'id="Defs" targetNamespace="http://baton.example/hardening"')


def process(key, body, form=""):
    """start (with `form` fields) → `body` (elements between Flow_in and Flow_out) → end."""
    fields = f"<bpmn:extensionElements><camunda:formData>{form}</camunda:formData></bpmn:extensionElements>" if form else ""
    return (DECL + f'<bpmn:definitions {NS}>\n  <bpmn:process id="{key}" name="{key}" isExecutable="true">\n'
            f'    <bpmn:startEvent id="StartEvent_1">{fields}<bpmn:outgoing>Flow_in</bpmn:outgoing></bpmn:startEvent>\n'
            f'    {body}\n'
            '    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_out</bpmn:incoming></bpmn:endEvent>\n'
            '  </bpmn:process>\n</bpmn:definitions>\n').encode()


def timer(kind, value):
    """A timer catch event `Timer_1` of `kind` (timeDuration, timeDate, timeCycle) between start and end."""
    return (f'<bpmn:intermediateCatchEvent id="Timer_1"><bpmn:incoming>Flow_in</bpmn:incoming>'
            f'<bpmn:outgoing>Flow_out</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:{kind}>{escape(value)}'
            f'</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="Timer_1" />'
            '<bpmn:sequenceFlow id="Flow_b" sourceRef="Timer_1" targetRef="EndEvent_1" />')


def boundary_cycle(value):
    """A user task with a non-interrupting cycle timer on its boundary: the way a reminder loop is drawn."""
    return ('<bpmn:userTask id="Task_1" name="Wait"><bpmn:incoming>Flow_in</bpmn:incoming>'
            '<bpmn:outgoing>Flow_out</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:boundaryEvent id="Timer_1" attachedToRef="Task_1" cancelActivity="false">'
            '<bpmn:outgoing>Flow_c</bpmn:outgoing><bpmn:timerEventDefinition>'
            f'<bpmn:timeCycle>{escape(value)}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            '<bpmn:endEvent id="End_ping"><bpmn:incoming>Flow_c</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:sequenceFlow id="Flow_c" sourceRef="Timer_1" targetRef="End_ping" />'
            '<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="Task_1" />'
            '<bpmn:sequenceFlow id="Flow_b" sourceRef="Task_1" targetRef="EndEvent_1" />')


def fan_out(characteristics, before=""):
    """An optional script `Script_1`, then a parallel multi-instance user task `Multi_1`."""
    first = "Script_1" if before else "Multi_1"
    script = (f'<bpmn:scriptTask id="Script_1" scriptFormat="python"><bpmn:incoming>Flow_in</bpmn:incoming>'
              f'<bpmn:outgoing>Flow_m</bpmn:outgoing><bpmn:script>{escape(before)}</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="Flow_m" sourceRef="Script_1" targetRef="Multi_1" />' if before else "")
    return (script + f'<bpmn:userTask id="Multi_1" name="Each"><bpmn:incoming>{"Flow_m" if before else "Flow_in"}'
            f'</bpmn:incoming><bpmn:outgoing>Flow_out</bpmn:outgoing>{characteristics}</bpmn:userTask>'
            f'<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="{first}" />'
            '<bpmn:sequenceFlow id="Flow_b" sourceRef="Multi_1" targetRef="EndEvent_1" />')


def fix_flows(xml):
    """The helpers above name their flows Flow_a/Flow_b; the start and end name Flow_in/Flow_out."""
    return xml.replace(b'id="Flow_a"', b'id="Flow_in"').replace(b'id="Flow_b"', b'id="Flow_out"')


def deploy(api, key, body, form=""):
    return api["ed"].deploy((f"{key}.bpmn", fix_flows(process(key, body, form))))


def start(api, key, data):
    started = time.monotonic()
    reply = api["mia"].post(f"/processes/{key}/instances", json={"data": data})
    return reply, time.monotonic() - started


TEXT_FIELD = '<camunda:formField id="{}" type="string" />'


# ---------------------------------------------------------------------------------------------
# Timers

def test_a_timer_duration_from_a_form_is_bounded_and_fails_the_instance_at_once(api):
    assert deploy(api, "far_delay", timer("timeDuration", "${delay}"), TEXT_FIELD.format("delay")).status_code == 201
    for delay in ("P2000000Y", "P99999999999Y", "P101Y", "P40000D", "PT999999999H"):
        reply, took = start(api, "far_delay", {"delay": delay})
        body = reply.get_json()
        assert reply.status_code == 201 and body["status"] == "failed", (delay, body)
        assert body["incident"]["element_id"] == "Timer_1" and "100 years" in body["incident"]["message"], body
        assert took < 5, (delay, took)
    reply, _ = start(api, "far_delay", {"delay": "P99Y"})
    assert reply.get_json()["status"] == "running"


def test_a_timer_date_from_a_form_is_bounded(api):
    assert deploy(api, "far_date", timer("timeDate", "${when}"), TEXT_FIELD.format("when")).status_code == 201
    body = start(api, "far_date", {"when": "9999-12-31T00:00:00"})[0].get_json()
    assert body["status"] == "failed" and "100 years" in body["incident"]["message"], body
    assert start(api, "far_date", {"when": "2090-01-01T00:00:00"})[0].get_json()["status"] == "running"


def test_timer_values_written_in_the_diagram_are_checked_at_deploy(api):
    for key, body, word in (("lit_cycle_zero", boundary_cycle("R/PT0S"), "repeats more often"),
                            ("lit_cycle_ms", boundary_cycle("R/PT0.001S"), "repeats more often"),
                            ("lit_far", timer("timeDuration", "P2000000Y"), "100 years"),
                            ("lit_far_date", timer("timeDate", "9000-01-01T00:00:00"), "100 years")):
        reply = deploy(api, key, body)
        assert reply.status_code == 422, (key, reply.get_json())
        problems = reply.get_json()["errors"]
        assert any(p.get("element_id") == "Timer_1" and word in p["message"] for p in problems), (key, problems)
    assert deploy(api, "lit_cycle_ok", boundary_cycle("R/PT1M")).status_code == 201


def test_a_computed_timer_cycle_below_the_minimum_fails_the_instance(api):
    assert deploy(api, "fast_cycle", boundary_cycle("${cycle}"), TEXT_FIELD.format("cycle")).status_code == 201
    for cycle in ("R/PT0S", "R/PT0.001S", "R5/PT1S"):
        body = start(api, "fast_cycle", {"cycle": cycle})[0].get_json()
        assert body["status"] == "failed" and body["incident"]["element_id"] == "Timer_1", (cycle, body)
        assert "repeats more often" in body["incident"]["message"]
    assert start(api, "fast_cycle", {"cycle": "R/PT1H"})[0].get_json()["status"] == "running"


# ---------------------------------------------------------------------------------------------
# Fan-out

def _open_task_rows(db_url):
    session = database.connect(db_url)()
    try:
        return session.scalar(select(func.count()).select_from(HumanTask))
    finally:
        session.close()


def test_fan_out_from_a_form_number_is_capped_per_activity(api, db_url):
    many = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>${n}</bpmn:loopCardinality>'
            '</bpmn:multiInstanceLoopCharacteristics>')
    assert deploy(api, "fan_number", fan_out(many), '<camunda:formField id="n" type="long" />').status_code == 201
    reply, took = start(api, "fan_number", {"n": 20000})
    body = reply.get_json()
    assert body["status"] == "failed" and body["incident"]["element_id"] == "Multi_1", body
    assert str(bounds.MAX_INSTANCES_PER_ACTIVITY) in body["incident"]["message"]
    assert took < 30 and _open_task_rows(db_url) == 0
    body = start(api, "fan_number", {"n": 3})[0].get_json()
    assert body["status"] == "running" and len(body["tasks"]) == 3


def test_fan_out_is_capped_per_instance_too(api, monkeypatch):
    monkeypatch.setattr(bounds, "MAX_OPEN_TASKS_PER_INSTANCE", 150)    # the setting, lowered for the test
    many = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>${n}</bpmn:loopCardinality>'
            '</bpmn:multiInstanceLoopCharacteristics>')
    assert deploy(api, "fan_instance", fan_out(many), '<camunda:formField id="n" type="long" />').status_code == 201
    body = start(api, "fan_instance", {"n": 300})[0].get_json()
    assert body["status"] == "failed" and "150 open tasks" in body["incident"]["message"], body


def test_fan_out_over_a_collection_built_by_a_script_is_capped_too(api):
    many = ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="items" camunda:elementVariable="item" />')
    assert deploy(api, "fan_list", fan_out(many, before="items = list(range(count))"),
                  '<camunda:formField id="count" type="long" />').status_code == 201
    body = start(api, "fan_list", {"count": 5000})[0].get_json()
    assert body["status"] == "failed" and body["incident"]["element_id"] == "Multi_1", body
    assert start(api, "fan_list", {"count": 2})[0].get_json()["status"] == "running"


# ---------------------------------------------------------------------------------------------
# DMN

DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def decision(entry):
    """A decision table `Decide` with one rule `Rule_1` whose input entry is `entry`."""
    return (DECL + f'<definitions xmlns="{DMN_NS}" id="Dmn" name="d" namespace="http://baton.example/dmn">'
            '<decision id="Decide" name="Decide"><decisionTable id="Table_1">'
            '<input id="Input_1" label="amount"><inputExpression id="Expr_1" typeRef="integer">'
            '<text>amount</text></inputExpression></input>'
            '<output id="Output_1" name="verdict" typeRef="string" />'
            f'<rule id="Rule_1"><inputEntry id="Entry_1"><text>{escape(entry)}</text></inputEntry>'
            '<outputEntry id="Out_1"><text>"big"</text></outputEntry></rule>'
            '</decisionTable></decision></definitions>\n').encode()


RULE_TASK = ('<bpmn:businessRuleTask id="Rule_task" camunda:decisionRef="Decide"><bpmn:incoming>Flow_in</bpmn:incoming>'
             '<bpmn:outgoing>Flow_r</bpmn:outgoing></bpmn:businessRuleTask>'
             '<bpmn:userTask id="Task_1" name="See"><bpmn:incoming>Flow_r</bpmn:incoming>'
             '<bpmn:outgoing>Flow_out</bpmn:outgoing></bpmn:userTask>'
             '<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="Rule_task" />'
             '<bpmn:sequenceFlow id="Flow_r" sourceRef="Rule_task" targetRef="Task_1" />'
             '<bpmn:sequenceFlow id="Flow_b" sourceRef="Task_1" targetRef="EndEvent_1" />')


def deploy_rule(api, key, entry):
    xml = fix_flows(process(key, RULE_TASK, '<camunda:formField id="amount" type="long" />'))
    return api["ed"].deploy((f"{key}.bpmn", xml), (f"{key}.dmn", decision(entry)))


def test_dmn_entries_are_checked_at_deploy(api):
    for entry in ("__import__('os')", "> > 5", "amount.__class__"):
        reply = deploy_rule(api, "dmn_bad", entry)
        assert reply.status_code == 422, (entry, reply.get_json())
        assert any(e.get("element_id") == "Rule_1" and "does not compile" in e["message"]
                   for e in reply.get_json()["errors"]), reply.get_json()
    assert deploy_rule(api, "dmn_good", "> 1000").status_code == 201
    body = start(api, "dmn_good", {"amount": 5000})[0].get_json()
    assert body["status"] == "running" and body["data"]["verdict"] == "big", body.get("incident")


def test_a_dmn_entry_full_of_question_marks_costs_linear_time(api):
    entry = " or ".join(["? in (1, 2)"] * 2500)      # about 30 KB with 2,500 `?`
    assert deploy_rule(api, "dmn_many", entry).status_code == 201
    body, took = start(api, "dmn_many", {"amount": 2})
    assert body.get_json()["data"]["verdict"] == "big" and took < 5, took


def test_input_marks_match_spiffworkflows_rule_outside_quotes():
    assert bounds.mark_input_references("? > 1") == "dmninputexpr > 1"
    assert bounds.mark_input_references("'a?' == ? and \"?\" != ?") == "'a?' == dmninputexpr and \"?\" != dmninputexpr"


# ---------------------------------------------------------------------------------------------
# Deploy cost

def test_deploy_is_linear_in_its_problems_and_lists_a_bounded_number(api):
    fields = "".join(f'<camunda:formField id="f{i}" type="bogus" />' for i in range(6000))
    tasks = ('<bpmn:userTask id="Task_1" name="Many"><bpmn:extensionElements><camunda:formData>'
             f'{fields}</camunda:formData></bpmn:extensionElements><bpmn:incoming>Flow_in</bpmn:incoming>'
             '<bpmn:outgoing>Flow_out</bpmn:outgoing></bpmn:userTask>'
             '<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="Task_1" />'
             '<bpmn:sequenceFlow id="Flow_b" sourceRef="Task_1" targetRef="EndEvent_1" />')
    started = time.monotonic()
    reply = deploy(api, "many_problems", tasks)
    took = time.monotonic() - started
    errors = reply.get_json()["errors"]
    assert reply.status_code == 422 and len(errors) == definitions.MAX_REPORTED_PROBLEMS + 1, len(errors)
    assert errors[0]["element_id"] == "Task_1" and isinstance(errors[0]["line"], int)
    assert "5900 more problems" in errors[-1]["message"]
    assert took < 8, took


# ---------------------------------------------------------------------------------------------
# The sandbox's own helpers

def test_methods_called_on_their_type_obey_the_same_guards():
    for source in ("str.ljust('a', 10**8)", "str.center('a', 10**8)", "str.zfill('1', 10**8)",
                   "'a'.encode().ljust(10**8)", "str.replace('a' * 1000, 'a', 'a' * 1000)",
                   "(1).to_bytes(10**8, 'big')", "int.to_bytes(1, 10**8, 'big')"):
        try:
            sandbox.run(source, {})
        except sandbox.SandboxError:
            continue
        raise AssertionError(f"{source} was allowed")
    assert sandbox.run("str.join(',', ['a', 'b'])", {}) == "a,b"


def test_helpers_never_show_a_memory_address():
    for source in ("repr(days)", "str(now)", "f'{range}'", "repr('a'.replace)", "str([sum, sorted, date])"):
        assert "0x" not in sandbox.run(source, {}), source
    for source in ("id(1)", "hash(days)"):
        try:
            sandbox.run(source, {})
        except NameError:
            continue
        raise AssertionError(f"{source} was allowed")


# ---------------------------------------------------------------------------------------------
# Text longer than the database keeps (PostgreSQL refuses it; SQLite would keep it whole)

def user_task(name="Do it", attributes=""):
    return (f'<bpmn:userTask id="Task_1" name="{escape(name)}" {attributes}><bpmn:incoming>Flow_in</bpmn:incoming>'
            '<bpmn:outgoing>Flow_out</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="Task_1" />'
            '<bpmn:sequenceFlow id="Flow_b" sourceRef="Task_1" targetRef="EndEvent_1" />')


def test_text_too_long_for_its_column_is_refused_at_deploy_naming_the_element(api):
    for body, word in ((user_task("n" * 300), "name"),
                       (user_task(attributes=f'camunda:candidateGroups="writer, {"r" * 120}"'), "role"),
                       (user_task(attributes=f'camunda:assignee="{"a" * 90}"'), "assignee")):
        reply = deploy(api, "long_text", body)
        assert reply.status_code == 422, reply.get_json()
        assert any(e.get("element_id") == "Task_1" and word in e["message"] for e in reply.get_json()["errors"]), \
            reply.get_json()
    long_id = fix_flows(process("long_id", timer("timeDuration", "PT1H"))).replace(b'"Timer_1"', b'"T' + b"i" * 300 + b'"')
    reply = api["ed"].deploy(("long_id.bpmn", long_id))
    assert reply.status_code == 422 and "element id" in reply.get_json()["errors"][0]["message"], reply.get_json()
    reply = api["ed"].deploy((("d" * 300) + ".bpmn", fix_flows(process("long_file", user_task()))))
    assert reply.status_code == 422 and "file name" in reply.get_json()["errors"][0]["message"]
    xml = fix_flows(process("long_name", user_task())).replace(b'name="long_name"', b'name="' + b"p" * 300 + b'"')
    reply = api["ed"].deploy(("long_name.bpmn", xml))
    assert reply.status_code == 422 and "process name" in reply.get_json()["errors"][0]["message"]


def test_a_long_title_and_task_name_start_notify_and_complete(api, session):
    name = "Write " + "w" * 200
    assert deploy(api, "long_title", user_task(name, 'camunda:candidateGroups="writer"'),
                  TEXT_FIELD.format("title")).status_code == 201
    body = start(api, "long_title", {"title": "t" * 250})[0].get_json()
    assert body["status"] == "running" and body["label"].startswith("t" * 200), body
    notices = session.scalars(select(Notification).where(Notification.instance_id == body["id"])).all()
    assert notices and all(len(n.subject) <= 255 and n.subject.endswith("…") for n in notices)
    done = api["walt"].post(f"/tasks/{body['tasks'][0]['id']}/complete", json={"data": {}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed", done.get_json()


def test_a_long_overdue_notice_goes_out_and_does_not_stop_the_others(api, session):
    assert deploy(api, "late_long", user_task("Late " + "l" * 200, 'camunda:candidateGroups="writer" '
                                              'camunda:dueDate="P1D"'), TEXT_FIELD.format("title")).status_code == 201
    assert deploy(api, "late_short", user_task("Late", 'camunda:candidateGroups="writer" camunda:dueDate="P1D"'),
                  ).status_code == 201
    long_one = start(api, "late_long", {"title": "t" * 250})[0].get_json()["id"]
    short_one = start(api, "late_short", {})[0].get_json()["id"]
    done = worker.run_once(session, clock.now() + timedelta(days=2))
    assert done["overdue"] == 2, done
    for instance_id in (long_one, short_one):
        overdue = session.scalars(select(Notification).where(Notification.instance_id == instance_id,
                                                             Notification.kind == "overdue")).all()
        assert overdue and all(len(n.subject) <= 255 for n in overdue), instance_id


def test_roles_and_emails_too_long_are_refused_by_the_users_api(api):
    for user in ({"username": "longrole", "password": PASSWORD, "roles": ["r" * 120]},
                 {"username": "longmail", "password": PASSWORD, "email": "a" * 70 + "@example.com"}):
        reply = api["admin"].post("/users", json=user)
        assert reply.status_code == 422, reply.get_json()


# ---------------------------------------------------------------------------------------------
# The cost of HTTP Basic

def test_a_basic_client_has_its_password_hashed_once_not_on_every_call(api, monkeypatch):
    """scrypt runs for a Basic client's first call only; later calls with the same credentials are vouched
    for by one indexed read, as a bearer token is (engine/credentials.py). Counted, not timed."""
    credentials.forget()
    full_checks, check = [], users.check_password_hash
    monkeypatch.setattr(users, "check_password_hash", lambda stored, password: full_checks.append(stored) or check(stored, password))
    assert [api["walt"].get("/tasks").status_code for _ in range(20)] == [200] * 20
    assert len(full_checks) == 1
    assert Api(api["walt"].client, "walt", "wrong-password").get("/tasks").status_code == 401
    assert len(full_checks) == 2, "a wrong password is checked in full, never vouched for"


def test_a_password_change_ends_remembered_basic_credentials(api, session):
    assert api["walt"].get("/tasks").status_code == 200
    users.update(session, "walt", password="another-password-2")
    assert api["walt"].get("/tasks").status_code == 401
    assert Api(api["walt"].client, "walt", "another-password-2").get("/tasks").status_code == 200
    users.update(session, "walt", active=False)
    assert Api(api["walt"].client, "walt", "another-password-2").get("/tasks").status_code == 401


# ---------------------------------------------------------------------------------------------
# Identity and sessions

def test_usernames_are_unique_whatever_their_case_and_internal_names_are_reserved(api):
    for name in ("WALT", "Walt"):
        reply = api["admin"].post("/users", json={"username": name, "password": PASSWORD})
        assert reply.status_code == 409, reply.get_json()
    for name in ("scheduler", "CLI", "worker", "system"):
        reply = api["admin"].post("/users", json={"username": name, "password": PASSWORD})
        assert reply.status_code == 422 and "Baton itself" in reply.get_json()["errors"][0]["message"], name


def test_the_migration_renames_old_accounts_that_clash(db_url):
    from alembic import command
    from test_migrations import alembic_config
    command.downgrade(alembic_config(db_url), "0008")
    engine = database.configure(create_engine(db_url))
    try:
        with engine.begin() as connection:
            for name in ("ana", "ANA", "scheduler", "ana-2"):
                connection.execute(text("INSERT INTO users (username, password_hash, is_admin, active, created_at) "
                                        "VALUES (:name, 'x', false, true, CURRENT_TIMESTAMP)"), {"name": name})
    finally:
        engine.dispose()
    database.upgrade(db_url)
    session = database.connect(db_url)()
    try:
        names = session.scalars(select(User.username).order_by(User.id)).all()
    finally:
        session.close()
    assert names[0] == "ana" and names[3] == "ana-2", names
    assert names[1].startswith("ANA-") and names[2].startswith("scheduler-") and len({n.lower() for n in names}) == 4


def _signed_in(app, username="walt"):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    reply = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert reply.status_code == 302
    return client


def _csrf(client, path="/"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_a_session_cookie_copied_before_logout_stops_working(app, people):
    client = _signed_in(app)
    copied = client.get_cookie("session").value
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": _csrf(client)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/").status_code == 302, "the copied cookie still signs in"


def test_a_password_reset_ends_sessions_and_revokes_tokens(app, api, session):
    client = _signed_in(app)
    token = api["walt"].post("/tokens").get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/").status_code == 200 and app.test_client().get("/api/v1/tasks", headers=bearer).status_code == 200
    users.update(session, "walt", password="reset-by-admin-3")
    assert client.get("/").status_code == 302
    assert app.test_client().get("/api/v1/tasks", headers=bearer).status_code == 401


def test_tokens_are_listed_and_revoked_through_the_api_and_the_page(app, api):
    first, second = (api["walt"].post("/tokens").get_json()["token"] for _ in range(2))
    listed = api["walt"].get("/tokens").get_json()
    assert len(listed) == 2 and api["mia"].get("/tokens").get_json() == []
    client = app.test_client()
    refused = contract.check(client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=api["mia"].headers))
    assert refused.status_code == 404, "nobody revokes another person's token"
    huge = contract.check(client.delete(f"/api/v1/tokens/{3_000_000_000}", headers=api["walt"].headers))
    assert huge.status_code == 404, "an id no column holds: not there"
    gone = contract.check(client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=api["walt"].headers))
    assert gone.status_code == 204
    codes = {t: client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {t}"}).status_code for t in (first, second)}
    assert sorted(codes.values()) == [200, 401], codes
    page_client = _signed_in(app)
    page = page_client.get("/account/tokens").get_data(as_text=True)
    assert f"#{listed[1]['id']}" in page
    reply = page_client.post(f"/account/tokens/{listed[1]['id']}/revoke", data={"csrf_token": _csrf(page_client, "/account/tokens")})
    assert reply.status_code == 302 and api["walt"].get("/tokens").get_json() == []


def test_sign_in_never_redirects_off_site_or_fails(app, people):
    for target in ("/%09/evil.example/", "/%0A/evil.example/", "/%0D%0ALocation:%20http://evil.example/",
                   "//evil.example/", "/\\evil.example/", "/%09%09/evil.example"):
        client = app.test_client()
        token = _csrf(client, "/login")
        reply = client.post(f"/login?next={target}", data={"username": "walt", "password": PASSWORD, "csrf_token": token})
        location = reply.headers.get("Location", "")
        assert reply.status_code == 302 and urlsplit(location).netloc in ("", "localhost"), (target, location)
        assert not location.lstrip("/\t\n\r ").startswith("evil") and "//evil" not in location.replace("\t", ""), location
    client = app.test_client()
    reply = client.post("/login?next=/instances/", data={"username": "walt", "password": PASSWORD,
                                                          "csrf_token": _csrf(client, "/login")})
    assert reply.headers["Location"].endswith("/instances/")


def test_the_sign_in_throttle_is_kept_in_the_database(db_url, people):
    first, second = make_app(db_url).test_client(), make_app(db_url).test_client()   # two web processes
    assert [Api(first, "dora", f"guess-{n}").get("/tasks").status_code for n in range(5)] == [401] * 5
    assert Api(second, "DORA").get("/tasks").status_code == 429, "the other process knows of the failures"
    session = database.connect(db_url)()
    try:
        later = clock.now() + timedelta(seconds=login_throttle.WINDOW_SECONDS + 1)
        with clock.frozen_at(later):
            assert Api(second, "dora").get("/tasks").status_code == 200, "the window passed"
            assert Api(second, "mia", "wrong").get("/tasks").status_code == 401
            names = session.scalars(select(LoginFailure.username)).all()
        assert names == ["mia"], "failures older than the window are forgotten"
    finally:
        session.close()


def test_smtp_credentials_are_never_sent_in_plain_text(session, monkeypatch):
    logins = []

    class Box:
        async def handle_DATA(self, server, smtp_session, envelope):
            return "250 OK"

    def authenticator(server, smtp_session, envelope, mechanism, auth_data):
        logins.append(mechanism)
        return AuthResult(success=True)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Box(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        monkeypatch.setenv("BATON_SMTP_URL", f"smtp://baton:secret@127.0.0.1:{port}")
        notice = Notification(channel="email", kind="email_step", target="ana@example.com", subject="Hello",
                              body="Hi", status="pending", next_attempt_at=clock.now())
        session.add(notice)
        session.commit()
        assert notifications.deliver_pending(session, clock.now()) == 0
        session.refresh(notice)
        assert "STARTTLS" in notice.last_error and logins == [], (notice.last_error, logins)
    finally:
        controller.stop()


def test_baton_users_add_reads_the_password_from_standard_input(db_url):
    env = {"BATON_DATABASE_URL": db_url, "BATON_SECRET_KEY": "cli-test"}
    result = CliRunner().invoke(cli.main, ["users", "add", "ana", "--role", "writer"], input="from-stdin-pw\n",
                                env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    session = database.connect(db_url)()
    try:
        assert users.authenticate(session, "ana", "from-stdin-pw") is not None
    finally:
        session.close()


# ---------------------------------------------------------------------------------------------
# Smaller things

class Hooks(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        Hooks.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_text_cannot_ping_a_channel_or_disguise_a_link(api, session, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hooks.received.clear()
    monkeypatch.setenv("BATON_ROLE_WEBHOOKS", json.dumps({"writer": f"http://127.0.0.1:{server.server_port}/hook"}))
    try:
        assert deploy(api, "hooked", user_task("Write", 'camunda:candidateGroups="writer"'),
                      TEXT_FIELD.format("title")).status_code == 201
        assert start(api, "hooked", {"title": "<!channel> <https://evil.example|Open the brief> & more"})[0].status_code == 201
        assert worker.run_once(session)["delivered"] >= 1
        text = Hooks.received[0]["text"]
        assert "<" not in text and ">" not in text and "&lt;!channel&gt;" in text and "&amp; more" in text, text
    finally:
        server.shutdown()


def test_a_diagram_with_any_file_name_downloads_under_that_name(api, session, people):
    for name in ("диаграмма.bpmn", 'say "hi".bpmn'):    # deployed in the engine: a test client cannot send a `"`
        key = f"named_{len(name)}"
        definition, _ = definitions.deploy(session, [(name, fix_flows(process(key, user_task())))], people["ed"])
        download = api["ed"].get(f"/definitions/{definition.id}/xml")
        assert download.status_code == 200
        header = download.headers["Content-Disposition"]
        assert f"filename*=UTF-8''{quote(name, safe='')}" in header and header.count('"') == 2, header


def test_a_correlation_key_the_instance_lacks_matches_nothing(api):
    api["ed"].deploy("nurture_wait.bpmn")
    api["admin"].post("/processes/nurture_wait/instances", json={"data": {"email": "anna@x.example"}})
    reply = api["admin"].post("/messages", json={"name": "ebook_downloaded", "correlation": {"no_such_key": None}})
    assert reply.status_code == 404, reply.get_json()


def test_a_long_field_holds_64_bit_numbers_only(api):
    assert deploy(api, "big_long", user_task(), '<camunda:formField id="amount" type="long" />').status_code == 201
    for value in (1e300, 2.0 ** 64, "1e300"):
        reply = start(api, "big_long", {"amount": value})[0]
        assert reply.status_code == 422 and reply.get_json()["errors"][0]["field"] == "amount", (value, reply.get_json())
    assert start(api, "big_long", {"amount": 1e18})[0].status_code == 201


def test_an_unknown_tab_is_a_422_naming_it(api):
    reply = api["walt"].get("/tasks?tab=x")
    assert reply.status_code == 422 and reply.get_json()["errors"][0]["field"] == "tab"


def test_a_helper_name_always_means_the_helper(api):
    reply = deploy(api, "shadow_field", user_task(), '<camunda:formField id="date" type="string" />')
    assert reply.status_code == 422 and "helper" in reply.get_json()["errors"][0]["message"], reply.get_json()
    script = ('<bpmn:scriptTask id="Script_1" scriptFormat="python"><bpmn:incoming>Flow_in</bpmn:incoming>'
              '<bpmn:outgoing>Flow_out</bpmn:outgoing><bpmn:script>now = 1</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="Flow_a" sourceRef="StartEvent_1" targetRef="Script_1" />'
              '<bpmn:sequenceFlow id="Flow_b" sourceRef="Script_1" targetRef="EndEvent_1" />')
    reply = deploy(api, "shadow_script", script)
    assert reply.status_code == 422 and "helper" in reply.get_json()["errors"][0]["message"], reply.get_json()
    assert sandbox.run("days(1) == timedelta(days=1) and now() is not None", {"days": 5, "now": None}) is True


def test_an_unexpected_failure_says_what_may_have_been_kept_and_the_next_request_works(app, api, db_url):
    """A fault no rule foresaw (here the database loses the table the inbox reads) answers 500 with a
    message that does not claim nothing changed, as JSON to the API and as a page to a browser; the
    failed request's transaction is rolled back, so the next request on the same server is served."""
    api["ed"].deploy("campaign_review.bpmn")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE task_candidates"))
    engine.dispose()
    reply = api["walt"].client.get("/api/v1/tasks", headers=api["walt"].headers)
    assert reply.status_code == 500
    message = reply.get_json()["errors"][0]["message"]
    assert message.startswith("internal error: the request did not finish")
    assert "check the instance history" in message and "nothing was changed" not in message
    page = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text).group(1)
    page.post("/login", data={"username": "walt", "password": PASSWORD, "csrf_token": token})
    html = page.get("/")
    assert html.status_code == 500 and "text/html" in html.content_type
    assert "the request did not finish" in html.get_data(as_text=True)
    assert api["walt"].get("/definitions").status_code == 200
