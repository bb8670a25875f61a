"""Races and crashes: two people completing or claiming the same task at once (threads against the
Flask app on a file database, and two engine sessions interleaved on purpose), and a real
`baton serve` SIGKILLed in the middle of a stream of completions.

Exactly one of two racing requests wins, the other gets 409; nothing is doubled in the history;
every completion a client saw acknowledged survives a crash; after a restart every instance's
workflow state, task table and history agree.
"""
import base64
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSWORD, Api, diagram
from live import free_port
from SpiffWorkflow import TaskState
from sqlalchemy import func, select
from test_security_sandbox import USER_LOOP

from engine import database, definitions, instances, tasks, workflows
from engine.errors import Conflict
from engine.models import Event, HumanTask, Instance

BATON = str(Path(sys.executable).with_name("baton"))
ROUNDS = 8


def _start_campaigns(api, count):
    assert api["ed"].deploy("campaign_review.bpmn").status_code == 201
    ids = []
    for n in range(count):
        reply = api["mia"].post("/processes/campaign_review/instances",
                                json={"data": {"title": f"Race {n}", "budget": 10}})
        assert reply.status_code == 201, reply.get_json()
        ids.append(reply.get_json()["id"])
    return ids


def _brief_of(api, instance_id):
    return [t for t in api["admin"].get("/tasks?limit=500").get_json()
            if t["instance_id"] == instance_id and t["element_id"] == "Task_brief"][0]


def _race(app, calls):
    """Run each (username, path, body) at the same moment from its own thread and client."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def one(index, username, path, body):
        client = Api(app.test_client(), username)
        barrier.wait()
        reply = client.post(path, json=body)
        results[index] = reply.status_code

    threads = [threading.Thread(target=one, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_people_completing_the_same_task_at_once_one_wins(app, api):
    ids = _start_campaigns(api, ROUNDS)
    for instance_id in ids:
        brief = _brief_of(api, instance_id)
        body = {"data": {"brief": "A brief long enough to pass", "channel": "email"}}
        statuses = _race(app, [("walt", f"/tasks/{brief['id']}/complete", body),
                               ("wendy", f"/tasks/{brief['id']}/complete", body)])
        assert sorted(statuses) == [200, 409], statuses
        history = api["admin"].get(f"/instances/{instance_id}/history").get_json()
        assert [e["task_id"] for e in history if e["type"] == "task_completed"] == [brief["id"]]
        view = api["admin"].get(f"/instances/{instance_id}").get_json()
        assert view["status"] == "running"
        assert sorted(t["element_id"] for t in view["tasks"]) == ["Task_copy", "Task_visuals"], "no doubled branches"
        ready = [e for e in history if e["type"] == "task_ready"]
        assert len(ready) == 3 and len({e["task_id"] for e in ready}) == 3


def test_two_people_claiming_the_same_task_at_once_one_wins(app, api):
    ids = _start_campaigns(api, ROUNDS)
    for instance_id in ids:
        brief = _brief_of(api, instance_id)
        statuses = _race(app, [("walt", f"/tasks/{brief['id']}/claim", None),
                               ("wendy", f"/tasks/{brief['id']}/claim", None)])
        assert sorted(statuses) == [200, 409], statuses
        history = api["admin"].get(f"/instances/{instance_id}/history").get_json()
        claims = [e for e in history if e["type"] == "task_claimed"]
        assert len(claims) == 1
        assert api["admin"].get(f"/tasks/{brief['id']}").get_json()["claimed_by"] == claims[0]["user"]


def test_a_claim_racing_a_completion_never_lets_both_through(app, api):
    """Completing while someone else claims: either the claim or the completion is refused."""
    ids = _start_campaigns(api, ROUNDS)
    for instance_id in ids:
        brief = _brief_of(api, instance_id)
        body = {"data": {"brief": "A brief long enough to pass", "channel": "email"}}
        statuses = _race(app, [("walt", f"/tasks/{brief['id']}/complete", body),
                               ("wendy", f"/tasks/{brief['id']}/claim", None)])
        assert 200 in statuses and set(statuses) <= {200, 409}, statuses
        row = api["admin"].get(f"/tasks/{brief['id']}").get_json()
        if statuses == [200, 200]:
            pytest.fail(f"both went through: the task was claimed by {row['claimed_by']} and completed by walt")


def _sessions(db_url):
    factory = database.connect(db_url)
    return factory(), factory()


def _first_brief(session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], people["ed"])
    instance = instances.start(session, "campaign_review", {"title": "Two sessions"}, people["mia"])
    return instance, session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                            HumanTask.state == "open"))


def test_two_engine_sessions_interleaved_the_later_completion_is_a_conflict(db_url, session, people, caplog):
    caplog.set_level(logging.WARNING)
    instance, brief = _first_brief(session, people)
    first, second = _sessions(db_url)
    # both have read the open task and the instance (and its lock version) before either writes
    stale_row = tasks.get(second, brief.id)
    stale_instance = instances.get(second, instance.id)
    assert stale_row.state == "open" and stale_instance.lock_version == instance.lock_version

    tasks.complete(first, brief.id, people["walt"], {"brief": "The first completion wins"})
    with pytest.raises(Conflict):
        tasks.complete(second, brief.id, people["wendy"], {"brief": "The second must be refused"})
    second.rollback()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING], \
        "a lost race is an answer (409), not a warning in the server's log"

    session.expire_all()
    completed = session.scalars(select(Event).where(Event.instance_id == instance.id,
                                                    Event.type == "task_completed")).all()
    assert [(e.task_id, e.user) for e in completed] == [(brief.id, "walt")]
    assert session.get(HumanTask, brief.id).completed_by == "walt"
    assert session.get(Instance, instance.id).data["brief"] == "The first completion wins"
    first.close()
    second.close()


def test_two_engine_sessions_a_completion_after_a_claim_by_someone_else_is_a_conflict(db_url, session, people):
    instance, brief = _first_brief(session, people)
    first, second = _sessions(db_url)
    stale_row = tasks.get(second, brief.id)     # walt opened the task before wendy claimed it
    assert stale_row.claimed_by is None

    tasks.claim(first, brief.id, people["wendy"])
    with pytest.raises(Conflict, match="claimed or finished by someone else"):
        tasks.complete(second, brief.id, people["walt"], {"brief": "Walt did not see the claim"})
    second.rollback()
    session.expire_all()
    assert session.get(HumanTask, brief.id).state == "open"
    first.close()
    second.close()


def test_two_engine_sessions_racing_in_threads(db_url, session, people):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], people["ed"])
    for n in range(ROUNDS):
        instance = instances.start(session, "campaign_review", {"title": f"Thread {n}"}, people["mia"])
        brief = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                       HumanTask.state == "open"))
        barrier, outcomes = threading.Barrier(2), []

        def complete(actor):
            own = database.connect(db_url)()
            barrier.wait()
            try:
                tasks.complete(own, brief.id, actor, {"brief": f"Completed by {actor.username}"})
                outcomes.append("won")
            except Conflict:
                own.rollback()
                outcomes.append("conflict")
            finally:
                own.close()

        threads = [threading.Thread(target=complete, args=(people[name],)) for name in ("walt", "wendy")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["conflict", "won"], outcomes
        count = session.scalar(select(func.count()).select_from(Event).where(
            Event.instance_id == instance.id, Event.type == "task_completed"))
        assert count == 1


# ---------------------------------------------------------------------------------------------
# Crash safety: SIGKILL the real server in the middle of a stream of completions.



def _call(base, method, path, body=None, user="walt"):
    token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(f"{base}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _serve(env, port, log):
    process = subprocess.Popen([BATON, "serve", "--port", str(port), "--threads", "4"], env=env,
                               stdout=open(log, "a"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 90   # a bound on start-up on a busy 2-core machine, not a timing
    while time.monotonic() < end:
        try:
            if _call(base, "GET", "/tasks")[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError("baton serve did not come up")


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _gone(pids, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and
                 open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.long
def test_sigkill_mid_stream_loses_no_acknowledged_completion(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    env = {**os.environ, "BATON_DATABASE_URL": url, "BATON_SECRET_KEY": "crash-test"}
    loop = tmp_path / "user_loop.bpmn"
    loop.write_text(USER_LOOP)

    def baton(*args):
        return subprocess.run([BATON, *args], env=env, capture_output=True, text=True, check=True, timeout=60).stdout

    baton("db", "upgrade")
    baton("users", "add", "walt", "--password", PASSWORD, "--role", "writer")
    baton("users", "add", "ed", "--password", PASSWORD, "--role", "modeller")
    baton("deploy", str(loop), "--user", "ed")
    log, port = tmp_path / "serve.log", free_port()
    server, base = _serve(env, port, log)
    acknowledged, unknown, lock, stop = [], [], threading.Lock(), threading.Event()
    try:
        started = [_call(base, "POST", "/processes/user_loop/instances", {"data": {}}) for _ in range(4)]
        assert all(status == 201 for status, _ in started), started

        def stream(offset):
            while not stop.is_set():
                task = None
                try:
                    status, open_tasks = _call(base, "GET", "/tasks?limit=100")
                    if status != 200 or not open_tasks:
                        continue
                    task = open_tasks[offset % len(open_tasks)]
                    status, body = _call(base, "POST", f"/tasks/{task['id']}/complete", {"data": {"more": True}})
                except OSError:      # the server died under this request: its outcome is unknown
                    with lock:
                        unknown.append(task and task["id"])
                    return
                with lock:
                    if status == 200:
                        acknowledged.append(task["id"])
                    else:
                        assert status == 409, (status, body)

        streams = [threading.Thread(target=stream, args=(n,)) for n in range(3)]
        for thread in streams:
            thread.start()
        end = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < end:
            time.sleep(0.01)
        workers = _children(server.pid)
        server.send_signal(signal.SIGKILL)         # mid-stream: requests are in flight
        server.wait(timeout=10)
        stop.set()
        for thread in streams:
            thread.join(timeout=60)
        assert len(acknowledged) >= 40, "the stream did not get going"
        assert _gone(workers), "sandbox workers outlived the killed server"

        server, base = _serve(env, port, log)       # restart on the same database
        session = database.connect(url)()
        completions = dict(session.execute(select(Event.task_id, func.count()).where(Event.type == "task_completed")
                                           .group_by(Event.task_id)).all())
        assert set(acknowledged) <= set(completions), "an acknowledged completion was lost"
        assert len(acknowledged) == len(set(acknowledged)), "one task was acknowledged twice"
        assert set(completions.values()) == {1}, "a completion was doubled"
        for instance in session.scalars(select(Instance)).all():
            _assert_consistent(session, instance)

        # the restarted server carries on where the stream stopped
        status, open_tasks = _call(base, "GET", "/tasks?limit=100")
        assert status == 200 and len(open_tasks) == 4
        for task in open_tasks:
            status, body = _call(base, "POST", f"/tasks/{task['id']}/complete", {"data": {"more": False}})
            assert status == 200 and body["status"] == "completed", body
        session.close()
    finally:
        stop.set()
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)
    text = log.read_text()
    assert " 500 " not in text and "Traceback" not in text, text[-3000:]


def _assert_consistent(session, instance):
    """Workflow state, task table and history of one instance tell the same story."""
    definition, workflow = instances.load(session, instance)
    ready = {str(t.id) for t in workflows.human_tasks(workflow)}
    open_rows = set(session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance.id,
                                                               HumanTask.state == "open")).all())
    assert instance.status == "running"
    assert open_rows == ready, f"instance {instance.id}: open rows {open_rows} but READY tasks {ready}"
    completed_rows = session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.instance_id == instance.id, HumanTask.state == "completed"))
    completed_events = session.scalar(select(func.count()).select_from(Event).where(
        Event.instance_id == instance.id, Event.type == "task_completed"))
    completed_in_workflow = sum(1 for t in workflow.get_tasks() if t.task_spec.bpmn_id == "Task_round"
                                and t.state == TaskState.COMPLETED)
    assert completed_rows == completed_events == completed_in_workflow, \
        (instance.id, completed_rows, completed_events, completed_in_workflow)
    ready_events = session.scalar(select(func.count()).select_from(Event).where(
        Event.instance_id == instance.id, Event.type == "task_ready"))
    assert ready_events == completed_events + len(ready)
