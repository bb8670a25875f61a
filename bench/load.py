"""Sustained load: N concurrent clients complete tasks for D seconds against `baton serve --workers 4`
on PostgreSQL, over loopback.

Setup: a throw-away PostgreSQL cluster, the 10-step linear process, enough running instances for the
whole run (each completion opens the instance's next step), one user with role `bench` and a bearer
token per client. Each client (a thread with one keep-alive connection) loops: GET
/api/v1/tasks?limit=25, pick one of the listed tasks at random, POST …/complete. A 409 (another
client got there first) is a race, counted apart from errors (any other status, or no answer).
Bounded: D seconds or the completions available, whichever comes first.

Printed: completions/s, latency p50/p99 of the completions and of the list calls, races, errors
(target 0), and a check that no task was completed twice. The baseline in the same run is a single
client (no concurrency) for a few seconds: the ratio says what concurrency buys on this machine.

    .venv/bin/python bench/load.py [--quick] [--clients 8] [--seconds 60] [--workers 4] [--threads 8]
"""
import argparse
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import say  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from engine import database, instances, users  # noqa: E402
from engine.models import Event  # noqa: E402

KEY, STEPS = "bench_linear", 10


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.completed, self.races, self.errors, self.empty = 0, 0, 0, 0
        self.complete_latency, self.list_latency, self.error_samples = [], [], []

    def add(self, **kw):
        with self.lock:
            for key, value in kw.items():
                if isinstance(getattr(self, key), list):
                    getattr(self, key).append(value)
                else:
                    setattr(self, key, getattr(self, key) + value)


def client_loop(port, token, deadline, tally, seed, page):
    rng = random.Random(seed)
    client = common.Client(port, token)
    try:
        while time.monotonic() < deadline:
            try:
                status, listed, elapsed = client.call("GET", f"/api/v1/tasks?limit={page}")
                tally.add(list_latency=elapsed)
                if status != 200:
                    tally.add(errors=1, error_samples=f"GET /tasks → {status}")
                    continue
                if not listed:
                    tally.add(empty=1)
                    time.sleep(0.05)
                    continue
                task = rng.choice(listed)
                status, _, elapsed = client.call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": {}})
            except Exception as error:  # no answer at all: an error, and a fresh connection
                client.close()
                tally.add(errors=1, error_samples=f"{error.__class__.__name__}: {error}")
                continue
            if status == 200:
                tally.add(completed=1, complete_latency=elapsed)
            elif status == 409:
                tally.add(races=1)
            else:
                tally.add(errors=1, error_samples=f"POST complete → {status}")
    finally:
        client.close()


def run_clients(port, tokens, seconds, page):
    tally = Tally()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client_loop, args=(port, token, deadline, tally, i, page))
               for i, token in enumerate(tokens)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.perf_counter() - started


def analyze(url):
    import psycopg
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s instead of 60 s")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, help="duration of the loaded run (default 60, quick 15)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process (baton's default)")
    parser.add_argument("--page", type=int, default=25, help="limit of each GET /tasks")
    parser.add_argument("--instances", type=int, help="instances started before the run (default: enough)")
    args = parser.parse_args()
    common.quiet_alembic()
    seconds = args.seconds or (15 if args.quick else 60)
    baseline_seconds = 5 if args.quick else 10
    # every instance offers 10 steps; sized for up to ~150 completions/s (2 cores measured 80-93/s), with margin:
    # at 60/s the 8-client run of 2026-12-02 used 95 % of them and its last seconds found few open tasks.
    # More open tasks make every GET /tasks dearer (it counts and sorts what the user may see), so not too many.
    n_instances = args.instances or max(300, int((seconds + baseline_seconds + 3) * 150 / STEPS * 1.5))
    common.header(f"Load: {args.clients} clients × {seconds:.0f} s against baton serve --workers {args.workers} "
                  f"--threads {args.threads} on PostgreSQL", "quick" if args.quick else "default")
    with common.workdir() as folder, common.postgres_cluster() as cluster:
        url = common.postgres_url(cluster)
        session = database.connect(url)()
        common.deploy(session, "linear.bpmn", common.linear_bpmn(KEY, STEPS))
        tokens = []
        for i in range(args.clients):
            common.add_user(session, f"client{i:02d}", ["bench"])
            tokens.append(users.issue_token(session, users.find(session, f"client{i:02d}")))
        say(f"starting {n_instances:,} instances ({n_instances * STEPS:,} completions available) …")
        for _ in range(n_instances):
            instances.start(session, KEY, {}, common.OPERATOR)
        session.close()
        analyze(url)   # planner statistics as autovacuum would have them in steady state
        session = database.connect(url)()
        with common.BatonServer(url, folder, workers=args.workers, threads=args.threads) as server:
            say("warming up (every web process parses the diagram once) …")
            run_clients(server.port, tokens, 3, args.page)
            say(f"baseline: 1 client for {baseline_seconds} s …")
            single, single_s = run_clients(server.port, tokens[:1], baseline_seconds, args.page)
            say(f"load: {args.clients} clients for {seconds:.0f} s …")
            loaded, loaded_s = run_clients(server.port, tokens, seconds, args.page)
            problems = server.log_problems()
        doubles = session.execute(select(Event.task_id).where(Event.type == "task_completed")
                                  .group_by(Event.task_id).having(func.count() > 1)).all()
        session.close()

    p = common.percentile
    rows = []
    base_rate = single.completed / single_s
    for label, tally, spent in (("1 client [baseline]", single, single_s),
                                (f"{args.clients} clients", loaded, loaded_s)):
        rate = tally.completed / spent
        rows.append((label, f"{spent:.1f} s", tally.completed, f"{rate:.0f}", f"{rate / base_rate:.2f}",
                     common.ms(p(tally.complete_latency, 50)), common.ms(p(tally.complete_latency, 99)),
                     common.ms(p(tally.list_latency, 50)), common.ms(p(tally.list_latency, 99)),
                     tally.races, tally.errors))
    say()
    say(common.table(["run", "time", "completed", "completions/s", "ratio to 1 client", "complete p50",
                      "complete p99", "list p50", "list p99", "409 races", "errors"], rows))
    say()
    say(f"errors: {loaded.errors} (target 0: {'MET' if loaded.errors == 0 and single.errors == 0 else 'MISSED'})"
        + (f"; e.g. {sorted(set(loaded.error_samples))[:5]}" if loaded.error_samples else ""))
    say(f"tasks completed twice: {len(doubles)}; server log faults (500s, tracebacks): {len(problems)}"
        + (f"; first: {problems[0]}" if problems else ""))
    say(f"each client: GET /api/v1/tasks?limit={args.page}, complete one at random; {n_instances:,} instances "
        f"({n_instances:,} open tasks at any time)")
    if loaded.empty or single.empty:
        say(f"NOTE clients found no open task {loaded.empty + single.empty} times: raise --instances")


if __name__ == "__main__":
    main()
    common.footer()
