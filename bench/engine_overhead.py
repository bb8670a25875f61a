"""What each layer costs per task completion, on a 10-step linear process (10 user tasks in a row).

  (a) SpiffWorkflow alone, in memory: parse once, `task.run(); wf.do_engine_steps()`
  (b) SpiffWorkflow with a serialise + deserialise per step, in the library's own JSON format
      (`BpmnWorkflowSerializer.serialize_json` / `deserialize_json`, as a stateless host that keeps
      nothing in memory does it): the BASELINE every other figure is divided by
  (c) the Baton engine API, `engine.tasks.complete`, on SQLite and on PostgreSQL
  (d) the full stack: `baton serve` (gunicorn) + the JSON API with a bearer token, a few client
      threads on loopback for a fixed time, each with a keep-alive connection per instance, on SQLite
      and on PostgreSQL

Target: full stack ≥ 50% of (b). The machine's speed drifts within a minute, so (b) is measured again
after every row, and each row is divided by the mean of the (b) runs just before and after it; a (d)
row runs in windows of two seconds with a slice of (b) between each two, and is divided by those.

    .venv/bin/python bench/engine_overhead.py [--quick] [--no-postgres] [--workers 2] [--clients 4] [--seconds 20]
"""
import argparse
import collections
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import say  # noqa: E402
from SpiffWorkflow import TaskState  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.camunda.parser import CamundaParser  # noqa: E402
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine import database, instances, tasks, users  # noqa: E402
from engine.models import HumanTask  # noqa: E402

KEY, STEPS = "bench_linear", 10


def spec():
    parser = CamundaParser()
    parser.add_bpmn_str(common.linear_bpmn(KEY, STEPS), "linear.bpmn")
    return parser.get_spec(KEY), parser.get_subprocess_specs(KEY)


def ready(workflow):
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def in_memory(n_instances):
    """(a): completions/s with the workflow kept in memory."""
    process, subprocesses = spec()
    done, spent = 0, 0.0
    for _ in range(n_instances):
        workflow = BpmnWorkflow(process, subprocesses)
        workflow.do_engine_steps()
        started = time.perf_counter()
        while todo := ready(workflow):
            todo[0].run()
            workflow.do_engine_steps()
            done += 1
        spent += time.perf_counter() - started
        assert workflow.is_completed() and done % STEPS == 0
    return done, spent, {}


def serialised(n_instances):
    """(b): completions/s with deserialise → run → serialise around every completion (a stateless request)."""
    process, subprocesses = spec()
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    done, spent = 0, 0.0
    phases = {"load": 0.0, "engine": 0.0, "dump": 0.0}
    size = 0
    for _ in range(n_instances):
        workflow = BpmnWorkflow(process, subprocesses)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        while True:
            t0 = time.perf_counter()
            workflow = serializer.deserialize_json(state)
            t1 = time.perf_counter()
            todo = ready(workflow)
            if not todo:
                break
            todo[0].run()
            workflow.do_engine_steps()
            t2 = time.perf_counter()
            state = serializer.serialize_json(workflow)
            t3 = time.perf_counter()
            phases["load"] += t1 - t0
            phases["engine"] += t2 - t1
            phases["dump"] += t3 - t2
            spent += t3 - t0
            done += 1
            size = len(state)
        assert workflow.is_completed()
    return done, spent, {"per step: load/engine/dump": " / ".join(common.ms(v / done) for v in phases.values()),
                         "state at end (JSON)": f"{size / 1024:.1f} KB"}


def setup_database(url, n_instances):
    """Deploy, one user in role `bench`, `n_instances` started instances; returns (factory, actor, token)."""
    factory = database.connect(url)
    session = factory()
    common.deploy(session, "linear.bpmn", common.linear_bpmn(KEY, STEPS))
    actor = common.add_user(session, "bench", ["bench"])
    token = users.issue_token(session, users.find(session, "bench"))
    for _ in range(n_instances):
        instances.start(session, KEY, {}, common.OPERATOR)
    session.close()
    return factory, actor, token


def open_task_ids(session):
    return list(session.scalars(select(HumanTask.id).where(HumanTask.state == "open").order_by(HumanTask.instance_id)))


def engine_api(url, n_instances):
    """(c): `tasks.complete` in one process, one session, all 10 steps of `n_instances` instances."""
    factory, actor, _ = setup_database(url, n_instances)
    session = factory()
    done, spent = 0, 0.0
    for _ in range(STEPS):
        for task_id in open_task_ids(session):
            started = time.perf_counter()
            tasks.complete(session, task_id, actor, {})
            spent += time.perf_counter() - started
            done += 1
    assert not open_task_ids(session), "every instance ran to its end"
    session.close()
    return done, spent, {}


class Gate:
    """Lets the clients send requests only in windows, so that the baseline (b) can be measured between
    windows on an idle machine: closing waits until no request is in flight."""

    def __init__(self):
        self._condition, self._open, self._stopped, self._in_flight = threading.Condition(), False, False, 0

    def enter(self):
        """Wait for a window; False once the run is over."""
        with self._condition:
            self._condition.wait_for(lambda: self._open or self._stopped)
            if self._stopped:
                return False
            self._in_flight += 1
            return True

    def leave(self):
        with self._condition:
            self._in_flight -= 1
            self._condition.notify_all()

    def open(self):
        with self._condition:
            self._open = True
            self._condition.notify_all()

    def close(self):
        with self._condition:
            self._open = False
            self._condition.wait_for(lambda: self._in_flight == 0)

    def stop(self):
        with self._condition:
            self._stopped = True
            self._condition.notify_all()


def chain(client, task_id, gate=None, record=None):
    """Complete task_id and each next task of the same instance, each request inside a window of `gate`
    (if any), calling `record(status, seconds)` for each (if given); False once the gate has stopped."""
    steps = common.complete_steps(client, task_id)
    while True:
        if gate is not None and not gate.enter():
            return False
        try:
            outcome = next(steps, None)
            if record is not None and outcome is not None:
                record(*outcome)
        finally:
            if gate is not None:
                gate.leave()
        if outcome is None:
            return True


WINDOW, BASELINE_SLICE = 2.0, 25   # seconds of (d) per window; instances of (b) between two windows


def full_stack(url, folder, n_instances, clients, workers, threads, seconds):
    """(d): in windows of WINDOW seconds until `seconds` of them have passed, each client takes the next
    instance from one shared queue and completes all its steps over HTTP, following the next task id
    each completion returns; throughput is counted at constant concurrency (no client runs out of work
    while the others have some). Between two windows, with no request in flight, (b) runs for a slice:
    this machine's speed drifts by half within a minute, so the baseline is measured all along the run,
    not only before and after it. Returns the (b) rate measured so, as the row's baseline."""
    factory, _, token = setup_database(url, n_instances + clients)   # one warm-up instance per client
    session = factory()
    first = open_task_ids(session)
    session.close()
    warmups, queue = first[:clients], collections.deque(first[clients:])
    latencies, statuses, lock = [], {}, threading.Lock()
    gate, ready = Gate(), threading.Barrier(clients + 1)

    with common.BatonServer(url, folder, workers=workers, threads=threads) as server:
        def record(status, elapsed):
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(elapsed)

        def run(index):
            client = common.Client(server.port, token)
            try:
                try:
                    chain(client, warmups[index])   # parses the bundle in that web process
                except BaseException:
                    ready.abort()   # nobody waits for a client that failed
                    raise
                ready.wait(timeout=300)
                while True:
                    try:
                        task_id = queue.popleft()
                    except IndexError:
                        break
                    if not chain(client, task_id, gate, record):
                        break
                    client.close()   # a new connection per instance: keep-alive connections stay with the
                    #                  worker that accepted them, and four of them often land on one worker
            finally:
                client.close()

        threads_ = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        for thread in threads_:
            thread.start()
        try:
            ready.wait(timeout=300)
        except threading.BrokenBarrierError:
            for thread in threads_:
                thread.join(timeout=60)
            raise RuntimeError(f"a client failed during warm-up; see {server.log_path}") from None
        cpu_before, own_before = server.worker_cpu(), time.process_time()
        database_before = common.cpu_seconds_of("postgres")
        spent, baseline_done, baseline_spent, baseline_cpu = 0.0, 0, 0.0, 0.0
        try:
            while spent < seconds and queue:
                started = time.perf_counter()
                gate.open()
                time.sleep(min(WINDOW, seconds - spent))
                gate.close()
                spent += time.perf_counter() - started
                cpu = time.process_time()
                steps, took, _ = serialised(BASELINE_SLICE)   # nothing in flight meanwhile
                baseline_cpu += time.process_time() - cpu
                baseline_done, baseline_spent = baseline_done + steps, baseline_spent + took
        finally:
            gate.stop()
            for thread in threads_:
                thread.join()
        cpu_after, own_after = server.worker_cpu(), time.process_time()
        database_used = common.cpu_seconds_of("postgres") - database_before
        problems = server.log_problems()
    if not queue:
        say(f"  note: the {n_instances} instances ran out before the {seconds:.0f} s were over")
    done = statuses.get(200, 0)
    used = [cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in sorted(cpu_after)]
    per = max(done, 1)
    extra = {"latency p50/p99": f"{common.ms(common.percentile(latencies, 50))} / "
                                f"{common.ms(common.percentile(latencies, 99))}",
             "statuses": ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items())),
             "server log faults": len(problems),
             # keep-alive connections stay with the worker that accepted them: the split shows the balance
             "CPU per completion: web processes / database server / clients":
                 f"{common.ms(sum(used) / per)} / {common.ms(database_used / per) if url.startswith('postgresql') else '–'} / "
                 f"{common.ms((own_after - own_before - baseline_cpu) / per)}",
             "CPU split over the web processes": " / ".join(f"{u / max(sum(used), 1e-9):.0%}" for u in used),
             "baseline": baseline_done / baseline_spent}
    return done, spent, extra


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances (about a minute in all)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes for (d)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process for (d)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads for (d)")
    parser.add_argument("--seconds", type=float, help="length of each (d) run (default 20, quick 6)")
    args = parser.parse_args()
    common.quiet_alembic()
    n_mem, n_ser, n_api, n_http = (100, 40, 15, 600) if args.quick else (300, 120, 50, 2500)
    seconds = args.seconds or (6 if args.quick else 20)
    common.header("Engine overhead per task completion (10-step linear process)",
                  "quick" if args.quick else "default")

    results = []   # (label, completions, seconds, extra, baseline rate around it)
    baselines = []  # (b) again after each measurement: this machine's speed drifts within a minute

    def rebase():
        done, spent, _ = serialised(max(n_ser // 3, 10))
        baselines.append(done / spent)

    def measure(label, function, *a):
        say(f"running {label} …")
        before = baselines[-1]
        done, spent, extra = function(*a)
        rebase()
        base = extra.pop("baseline", None)   # (d) measures (b) all along its run
        results.append((label, done, spent, extra, base or (before + baselines[-1]) / 2))

    say("running (b) SpiffWorkflow + serialise/deserialise per step [baseline] …")
    done, spent, extra = serialised(n_ser)
    baselines.append(done / spent)
    measure("(a) SpiffWorkflow in memory", in_memory, n_mem)
    results.insert(1, ("(b) SpiffWorkflow + serialise/deserialise per step [baseline]", done, spent, extra,
                       done / spent))
    with common.workdir() as folder:
        measure("(c) engine.tasks.complete, SQLite", engine_api, common.sqlite_url(folder, "api.sqlite3"), n_api)
        measure(f"(d) HTTP {args.workers}w×{args.threads}t, {args.clients} clients, SQLite", full_stack,
                common.sqlite_url(folder, "http.sqlite3"), folder, n_http, args.clients, args.workers, args.threads,
                seconds)
        if not args.no_postgres:
            with common.postgres_cluster() as cluster:
                measure("(c) engine.tasks.complete, PostgreSQL", engine_api, common.postgres_url(cluster), n_api)
                measure(f"(d) HTTP {args.workers}w×{args.threads}t, {args.clients} clients, PostgreSQL", full_stack,
                        common.postgres_url(cluster), folder, n_http, args.clients, args.workers, args.threads,
                        seconds)

    say()
    say(common.table(["layer", "completions", "seconds", "completions/s", "(b) around it, /s", "ratio to (b)",
                      "time per completion (1 ÷ rate)"],
                     [(label, done, f"{spent:.2f}", f"{done / spent:.0f}", f"{base:.0f}", f"{done / spent / base:.2f}",
                       common.ms(spent / done)) for label, done, spent, _, base in results]))
    say(f"(b) measured {len(baselines)} times, before and after each row: "
        + ", ".join(f"{b:.0f}" for b in baselines) + " completions/s; each row is divided by the mean of the "
        "two around it, a (d) row by (b) measured between its windows.")
    say()
    for label, _, _, extra, _ in results:
        for key, value in extra.items():
            say(f"{label}: {key}: {value}")
    say()
    for label, done, spent, _, base in results:
        if label.startswith("(d)"):
            ratio = done / spent / base
            say(f"target full stack ≥ 0.50 × (b): {label}: {ratio:.2f} → {'MET' if ratio >= 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
    common.footer()
