"""Several processes sharing PostgreSQL: `baton serve --workers 2` and two `baton worker`s, under
concurrent clients racing for the same tasks. Nothing is lost and nothing is done twice."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from conftest import DIAGRAMS, OPERATOR
from live import free_port
from sqlalchemy import func, select, text, update

from engine import database, definitions, driver, instances, tasks, users
from engine.access import Actor
from engine.errors import Conflict
from engine.models import Event, HumanTask, Instance, User

BATON = str(Path(sys.executable).with_name("baton"))
INSTANCES = 24




def call(base, token, method, path, body=None):
    request = urllib.request.Request(f"{base}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_until_up(base, token, deadline=30):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if call(base, token, "GET", "/tasks")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("baton serve did not come up")


@pytest.mark.long
def test_two_web_and_two_timer_workers_lose_nothing_and_double_nothing(pg_url, tmp_path):
    env = {**os.environ, "BATON_DATABASE_URL": pg_url, "BATON_SECRET_KEY": "scale-test"}

    def baton(*args):
        return subprocess.run([BATON, *args], env=env, capture_output=True, text=True, check=True, timeout=60).stdout

    baton("users", "add", "buyer", "--password", "password-1", "--role", "buyer")
    baton("deploy", str(DIAGRAMS / "quick_timer.bpmn"))
    token = baton("users", "token", "buyer").strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = [subprocess.Popen([BATON, "serve", "--port", str(port), "--workers", "2", "--threads", "4"], env=env,
                                  stdout=open(logs / "web.log", "w"), stderr=subprocess.STDOUT)]
    processes += [subprocess.Popen([BATON, "worker", "--interval", "0.3"], env=env,
                                   stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)
                  for i in range(2)]
    try:
        wait_until_up(base, token)
        started = [call(base, token, "POST", "/processes/quick_timer/instances", {"data": {}}) for _ in range(INSTANCES)]
        assert all(status == 201 for status, _ in started)
        ids = {body["id"] for _, body in started}

        statuses, sent, lock = [], [], threading.Lock()

        def race(task_ids):
            for task_id in task_ids:
                status, _ = call(base, token, "POST", f"/tasks/{task_id}/complete", {"data": {}})
                with lock:
                    statuses.append(status)
                    sent.append(task_id)

        def complete_all_open(element_id, expected):
            end = time.monotonic() + 60
            while True:
                _, open_tasks = call(base, token, "GET", "/tasks?limit=500")
                wanted = [t["id"] for t in open_tasks if t["element_id"] == element_id]
                if len(wanted) >= expected or time.monotonic() > end:
                    break
                time.sleep(0.3)
            assert len(wanted) == expected, f"{len(wanted)} of {expected} {element_id} tasks appeared"
            statuses.clear()
            threads = [threading.Thread(target=race, args=(wanted if i % 2 else wanted[::-1],)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert statuses.count(200) == expected, "each task completed exactly once"
            assert set(statuses) <= {200, 409}, f"unexpected statuses {sorted(set(statuses))}"

        complete_all_open("Task_order", INSTANCES)
        complete_all_open("Task_check", INSTANCES)   # appears only after each timer fired in a worker
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)

    session = database.connect(pg_url)()
    assert session.scalar(select(func.count()).select_from(Instance).where(Instance.id.in_(ids),
                                                                           Instance.status == "completed")) == INSTANCES
    fired = dict(session.execute(select(Event.instance_id, func.count()).where(Event.type == "timer_fired")
                                 .group_by(Event.instance_id)).all())
    assert set(fired) == ids and set(fired.values()) == {1}, "every timer fired exactly once"
    completions = dict(session.execute(select(Event.task_id, func.count()).where(Event.type == "task_completed")
                                       .group_by(Event.task_id)).all())
    assert len(completions) == 2 * INSTANCES and set(completions.values()) == {1}
    assert session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == "completed")) \
        == 2 * INSTANCES
    web_log = (logs / "web.log").read_text()
    assert web_log.count('"POST /api/v1/tasks/') == len(sent), "an access line for each completion sent"
    assert " 500 " not in web_log and "Traceback" not in web_log, web_log[-2000:]
    session.close()


def test_a_connection_the_database_dropped_while_it_rested_in_the_pool_is_replaced_unseen(pg_url, postgres,
                                                                                        monkeypatch):
    """A database restart (here: PostgreSQL ending the backend of a pooled connection) costs no failed
    request once the connection has rested: it is pinged and replaced on its next checkout."""
    monkeypatch.setattr(database, "PING_AFTER_IDLE", 0.2)
    factory = database.connect(pg_url)
    with factory() as session:
        dropped = session.scalar(text("SELECT pg_backend_pid()"))
    with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (dropped,)).fetchone()[0]
    time.sleep(0.3)
    with factory() as session:
        assert session.scalar(text("SELECT pg_backend_pid()")) != dropped
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
    factory.kw["bind"].dispose()


def test_reads_keep_the_statements_prepared_and_every_kind_of_write_is_still_rolled_back(pg_url):
    """psycopg forgets its server-side prepared statements at each ROLLBACK, so a transaction that only
    read ends with COMMIT instead (engine/database.py): the hot statements stay prepared across requests.
    A transaction that wrote, by any path (ORM flush, Core, text, the driver's cursor), is still rolled
    back: nothing it wrote is stored."""
    factory = database.connect(pg_url)
    with factory() as session:
        users.create(session, "rita", "password-1", ["writer"], email="rita@example.com")
    prepared = text("SELECT count(*) FROM pg_prepared_statements")
    with factory() as session:
        for _ in range(6):   # psycopg prepares a statement at its fifth run
            session.scalar(select(User.email).where(User.username == "rita"))
        assert session.scalar(prepared) > 0
        session.rollback()
        assert session.scalar(prepared) > 0, "a read-only transaction's end kept them"

    table = User.__table__
    writes = {
        "ORM flush": lambda s: setattr(s.scalars(select(User).where(User.username == "rita")).one(), "email", "x@y")
                               or s.flush(),
        "Core": lambda s: s.execute(update(User).where(User.username == "rita").values(email="x@y")),
        "text": lambda s: s.execute(text("UPDATE users SET email = 'x@y' WHERE username = 'rita'")),
        "driver": lambda s: driver.write(s.connection(), update(table).where(table.c.username == "rita")
                                         .values(email="x@y"), {}),
    }
    for how, write in writes.items():
        with factory() as session:
            session.scalar(select(User.email).where(User.username == "rita"))   # a read first, then the write
            write(session)
            session.rollback()
        with factory() as session:
            assert session.scalar(select(User.email).where(User.username == "rita")) == "rita@example.com", how
    factory.kw["bind"].dispose()


def test_a_completion_queues_behind_a_change_of_its_instance_instead_of_deadlocking(pg_url):
    """A change that cancels a task (a timer, an admin) locks the instance row, then the task row. A
    completion of that task meanwhile must wait on the instance row without holding the task row: had it
    taken the task first, each would wait for the other and PostgreSQL would fail one of them. Here the
    other change is played by hand on a connection of its own; the completion ends as a Conflict."""
    factory = database.connect(pg_url)
    session = factory()
    definitions.deploy(session, [("campaign_review.bpmn", (DIAGRAMS / "campaign_review.bpmn").read_bytes())],
                       OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "Deadlock-free"}, OPERATOR)
    brief = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance.id,
                                                      HumanTask.state == "open"))
    plain_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    other, watcher = psycopg.connect(plain_url), psycopg.connect(plain_url, autocommit=True)
    other.execute("SET lock_timeout = '10s'")
    other.execute("UPDATE instances SET lock_version = lock_version + 1 WHERE id = %s", (instance.id,))

    outcome = {}

    def complete():
        try:
            tasks.complete(factory(), brief, Actor("walt", frozenset({"writer"})), {"brief": "Long enough brief"})
            outcome["completed"] = True
        except Exception as error:   # noqa: BLE001 - the test looks at what it was
            outcome["error"] = error

    completing = threading.Thread(target=complete)
    completing.start()
    deadline = time.monotonic() + 20
    while watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                          "AND datname = current_database()").fetchone()[0] != 1:
        assert time.monotonic() < deadline and completing.is_alive(), f"the completion never waited: {outcome}"
        time.sleep(0.05)
    cancelled = other.execute("UPDATE human_tasks SET state = 'cancelled' WHERE id = %s", (brief,)).rowcount
    other.commit()
    completing.join(timeout=30)
    assert cancelled == 1, "the change that locked the instance first went through"
    assert isinstance(outcome.get("error"), Conflict), outcome
    session.expire_all()
    assert session.get(HumanTask, brief).state == "cancelled"
    assert not session.scalars(select(Event).where(Event.task_id == brief, Event.type == "task_completed")).all()
    other.close()
    watcher.close()
    session.close()
    factory.kw["bind"].dispose()
