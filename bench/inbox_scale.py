"""How the inbox scales with the number of open tasks: 1k, 10k and 100k open tasks (and, with
--full, 1,000,000 completed ones on top) over 1,000 users and 50 roles.

Rows are fabricated with bulk inserts straight into instances / human_tasks / task_candidates
(consistent with what the engine writes: one instance per open task, a candidate row per role or
assignee for open tasks only, some claimed, some with due dates, the counts per key in inbox_counts).
Then, for a typical user (2 roles, sees about 4% of the tasks), it times:
  - `engine.tasks.open_for(session, actor, tab="all", limit=25)` (one page and its total) and
    `tasks.counts` (the three tab counts), in an engine session
  - the inbox API `GET /api/v1/tasks?limit=25` with a bearer token, and the inbox page `/` signed in
    (`tasks.open_page` + `tasks.counts`), both through the Flask test client
as p50/p95/p99 over many requests, on SQLite and on PostgreSQL, and prints the growth ratio
of the largest size against 1k. Each size has a database of its own, and the sizes are timed together,
a few requests on each in turn: this machine's speed drifts by half within a minute, and timing one size
after the other made the growth ratio swing between 0.7 and 2.2 from run to run for the same code.
With --full, the largest then gets 1,000,000 completed tasks on top and is timed again, together with
the smallest. Target: API and page p95 < 25 ms at 100k open and ≤ 1.5× the 1k value.
The query plans at the largest size are printed at the end.

    .venv/bin/python bench/inbox_scale.py [--quick] [--full] [--no-postgres] [--requests 200]

PostgreSQL tables are ANALYZEd after each fill (autovacuum would do so in production); SQLite is
not (Baton never runs ANALYZE there: the inbox's plans do not depend on statistics).
"""
import argparse
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import say  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from engine import clock, database, tasks, users  # noqa: E402
from engine.access import Actor  # noqa: E402
from web import create_app  # noqa: E402

USERS, ROLES = 1000, 50
KEY = "bench_linear"
NOW = datetime(2026, 12, 1, 9, 0)
ME = "u0001"   # the typical user: two roles


def role_of(n):
    return f"role{n:02d}"


def roles_of_user(n):
    return [role_of(n % ROLES), role_of((n * 7 + 1) % ROLES)] if (n * 7 + 1) % ROLES != n % ROLES else \
        [role_of(n % ROLES), role_of((n + 1) % ROLES)]


class Filler:
    """Bulk inserts with the driver's fastest path: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, session):
        self.session = session
        self.bind = session.get_bind()
        self.postgres = self.bind.dialect.name == "postgresql"
        self.rng = random.Random(42)
        self.next_instance = 1
        self.open_under = Counter()   # key → open tasks with that key alone, as the engine keeps in inbox_counts

    def _value(self, value):
        if isinstance(value, (list, dict)):
            return json.dumps(value)
        if isinstance(value, datetime) and not self.postgres:
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")   # SQLAlchemy's SQLite DateTime format
        return value

    def insert(self, table, columns, rows):
        raw = self.bind.raw_connection()
        try:
            if self.postgres:
                with raw.driver_connection.cursor() as cursor:
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row([self._value(v) for v in row])
            else:
                cursor = raw.cursor()
                quoted = ", ".join(f'"{c}"' for c in columns)
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(columns))})",
                                   ([self._value(v) for v in row] for row in rows))
                cursor.close()
            raw.commit()
        finally:
            raw.close()

    def users(self):
        password = generate_password_hash(common.PASSWORD)   # one scrypt hash shared by every fabricated user
        self.insert("users", ["id", "username", "email", "password_hash", "is_admin", "active", "created_at"],
                    [(n + 1000, f"u{n:04d}", None, password, False, True, NOW) for n in range(USERS)])
        self.insert("user_roles", ["user_id", "role"],
                    [(n + 1000, r) for n in range(USERS) for r in roles_of_user(n)])

    def tasks(self, count, definition_id, state="open"):
        """`count` tasks in `state`, one instance per 1 (open) or 10 (completed) tasks."""
        per_instance = 1 if state == "open" else 10
        first, n_instances = self.next_instance, -(-count // per_instance)
        self.next_instance += n_instances
        status = "running" if state == "open" else "completed"
        self.insert("instances", ["id", "definition_id", "process_key", "process_name", "version", "status", "label",
                                  "state", "data", "incident", "started_by", "created_at", "updated_at", "ended_at",
                                  "next_timer_at", "lock_version"],
                    [(i + 100_000_000, definition_id, KEY, "Linear 10 steps", 1, status, f"Campaign {i}", b"", {},
                      None, "u0000", NOW - timedelta(days=30), NOW, None if state == "open" else NOW, None, 1)
                     for i in range(first, first + n_instances)])
        rows, candidates = [], []
        rng = self.rng
        for n in range(count):
            task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            instance_id = first + n // per_instance + 100_000_000
            assignee = claimed = None
            if rng.random() < 0.10:                     # 10% assigned to one person
                assignee = f"u{rng.randrange(USERS):04d}"
                roles, keys = [], [f"user:{assignee}"]
            else:
                role = role_of(rng.randrange(ROLES))
                roles, keys = [role], [f"role:{role}"]
                if state == "open" and rng.random() < 0.05:   # 5% claimed by someone
                    claimed = f"u{rng.randrange(USERS):04d}"
            created = NOW - timedelta(minutes=rng.randrange(60 * 24 * 60))
            due = NOW + timedelta(hours=rng.randrange(-24 * 5, 24 * 30)) if rng.random() < 0.3 else None
            step = rng.randrange(1, 11)
            completed = (created + timedelta(hours=1), f"u{rng.randrange(USERS):04d}") if state != "open" \
                else (None, None)
            rows.append((task_id, instance_id, KEY, "Linear 10 steps", f"Campaign {instance_id}", f"Task_{step}",
                         f"Step {step}", None, roles, assignee, claimed, state, [], "", due, None, created,
                         *completed, None, None, keys))
            if state == "open":   # the engine keeps candidate rows for open tasks only
                candidates += [(task_id, k, len(keys) > 1, claimed, due, created) for k in keys]
                if len(keys) == 1:
                    self.open_under[keys[0]] += 1
        self.insert("human_tasks", ["id", "instance_id", "process_key", "process_name", "instance_label", "element_id",
                                    "name", "lane", "roles", "assignee", "claimed_by", "state", "form",
                                    "documentation", "due_at", "follow_up_at", "created_at", "completed_at",
                                    "completed_by", "reminder_sent_at", "overdue_sent_at", "candidate_keys"], rows)
        self.insert("task_candidates", ["task_id", "key", "shared", "claimed_by", "due_at", "created_at"], candidates)
        with self.bind.begin() as connection:
            connection.execute(text("DELETE FROM inbox_counts"))
        self.insert("inbox_counts", ["key", "open_tasks"], sorted(self.open_under.items()))

    def analyze(self):
        if self.postgres:
            raw = self.bind.raw_connection()
            try:
                raw.driver_connection.autocommit = True
                raw.driver_connection.execute("VACUUM ANALYZE")
            finally:
                raw.driver_connection.autocommit = False
                raw.close()


def signed_in_client(url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options(url),
                      "SECRET_KEY": "bench-secret", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    reply = client.post("/login", data={"username": ME, "password": common.PASSWORD})
    assert reply.status_code == 302, f"sign-in failed: {reply.status_code}"
    return client


BATCH = 10   # requests of each kind on one database before the next database's turn


def timed_together(cells, repeat, budget):
    """Time each cell's functions in turns of BATCH calls, cell after cell, until every cell has `repeat`
    timings of each or `budget` seconds per cell have passed (after one turn at least): the machine's
    speed drifts by half within a minute, and interleaving lets the drift fall on every size alike, so
    the growth ratio compares sizes, not moments. `cells` holds lists of functions; returns their timings."""
    samples = [[[] for _ in functions] for functions in cells]
    end = time.monotonic() + budget * len(cells)
    while True:
        for functions, timings in zip(cells, samples):
            for function, taken in zip(functions, timings):
                for _ in range(BATCH):
                    started = time.perf_counter()
                    function()
                    taken.append(time.perf_counter() - started)
        if len(samples[0][0]) >= repeat or time.monotonic() > end:
            return samples


def explain(session, actor):
    """The plans of the statements the inbox page runs: its page of tasks and the tab counts."""
    bind = session.get_bind()
    statements = []

    def capture(_connection, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(bind, "before_cursor_execute", capture)
    try:
        tasks.open_page(session, actor, tab="all", limit=25)
        tasks.counts(session, actor)
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    postgres = bind.dialect.name == "postgresql"
    cursor = session.connection().connection.driver_connection.cursor()
    out = []
    for statement, parameters in statements:
        cursor.execute(("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN ") + statement,
                       parameters)
        rows = cursor.fetchall()
        plan = [r[0] for r in rows] if postgres else [f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows]
        out.append(f"-- {' '.join(statement.split())[:100]}…\n" + "\n".join(plan))
    cursor.close()
    return "\n".join(out)


class Inbox:
    """One database with a fabricated inbox, and what times it: the engine's reads in a session, the API
    and the page through the Flask test client."""

    def __init__(self, url):
        self.factory = database.connect(url)
        self.session = self.factory()
        self.url, self.definition = url, common.deploy(self.session, "linear.bpmn", common.linear_bpmn(KEY))
        self.filler = Filler(self.session)
        self.filler.users()
        self.actor, self.open_tasks = Actor(ME, frozenset(roles_of_user(1))), 0

    def fill(self, count, state="open"):
        started = time.perf_counter()
        self.filler.tasks(count, self.definition.id, state=state)
        self.open_tasks += count if state == "open" else 0
        self.filler.analyze()
        os.sync()   # measure the inbox, not the kernel still writing the rows just filled back to disk
        self.name = f"{self.open_tasks:,} open" + (f" + {count:,} done" if state != "open" else "")
        return time.perf_counter() - started

    def ready(self):
        """A fresh session and signed-in client, checked and warmed; the functions to time."""
        self.session.close()
        self.session = session = self.factory()
        client = signed_in_client(self.url)
        bearer = {"Authorization": f"Bearer {users.issue_token(session, users.find(session, ME))}"}
        self.visible = tasks.open_for(session, self.actor, limit=1)[1]
        counted = session.scalar(select(func.count()).select_from(tasks.open_query(self.actor).subquery()))
        assert self.visible == counted, f"the fabricated inbox_counts say {self.visible}, the tasks {counted}"
        assert client.get("/").status_code == 200
        assert client.get("/api/v1/tasks?limit=25", headers=bearer).status_code == 200
        return [lambda: tasks.open_for(session, self.actor, tab="all", limit=25),
                lambda: tasks.counts(session, self.actor),
                lambda: client.get("/api/v1/tasks?limit=25", headers=bearer),
                lambda: client.get("/")]

    def close(self):
        self.session.close()
        self.factory.kw["bind"].dispose()


def measure(inboxes, repeat, budget):
    """[(size, visible, open_for, counts, API and page timings)] of the inboxes, timed together."""
    timings = timed_together([inbox.ready() for inbox in inboxes], repeat, budget)
    return [(inbox.name, inbox.visible, *taken) for inbox, taken in zip(inboxes, timings)]


def run(make_url, label, levels, completed, repeat, budget):
    """One database per size, filled, then timed together; with `completed`, the largest gets that many
    completed tasks too and is timed again, together with the smallest. Returns (results, the largest's
    query plans, the results of that second round or None)."""
    inboxes = []
    with clock.frozen_at(NOW):
        try:
            for level in levels:
                inboxes.append(Inbox(make_url(f"inbox_{level}.sqlite3")))
                took = inboxes[-1].fill(level)
                say(f"  {label}: {inboxes[-1].name} filled in {took:.1f} s")
            say(f"  {label}: measuring the {len(levels)} sizes together …")
            results, with_done = measure(inboxes, repeat, budget), None
            if completed:
                took = inboxes[-1].fill(completed, state="completed")
                say(f"  {label}: {inboxes[-1].name} filled in {took:.1f} s; measuring it with the smallest …")
                with_done = measure([inboxes[0], inboxes[-1]], repeat, budget)
            plan = explain(inboxes[-1].session, inboxes[-1].actor)
        finally:
            for inbox in inboxes:
                inbox.close()
    return results, plan, with_done


def row(label, name, visible, query, counts, api, page, base_api, base_page):
    p = common.percentile
    return (label, name, f"{visible:,}", common.ms(p(query, 95)), common.ms(p(counts, 95)),
            common.ms(p(api, 50)), common.ms(p(api, 95)), common.ms(p(api, 99)), f"{p(api, 95) / base_api:.2f}",
            common.ms(p(page, 50)), common.ms(p(page, 95)), common.ms(p(page, 99)), f"{p(page, 95) / base_page:.2f}",
            len(page))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests per size")
    parser.add_argument("--full", action="store_true", help="also add 1,000,000 completed tasks")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--requests", type=int, help="requests per measurement (default 200, quick 60)")
    parser.add_argument("--budget", type=float, help="seconds per measurement at most (default 20, quick 6)")
    args = parser.parse_args()
    common.quiet_alembic()
    repeat = args.requests or (60 if args.quick else 200)
    budget = args.budget or (6 if args.quick else 20)
    levels = [1_000, 10_000, 100_000]
    completed = 1_000_000 if args.full else 0
    common.header("Inbox at scale (typical user with 2 of 50 roles; 1,000 users)",
                  ("quick" if args.quick else "default") + (" + full" if args.full else "")
)
    all_results, plans = [], []
    with common.workdir() as folder:
        databases = [("SQLite", lambda name: common.sqlite_url(folder, name))]
        cluster_context = None
        try:
            if not args.no_postgres:
                cluster_context = common.postgres_cluster()
                cluster = cluster_context.__enter__()
                databases.append(("PostgreSQL", lambda _name: common.postgres_url(cluster)))
            for label, make_url in databases:
                results, plan, with_done = run(make_url, label, levels, completed, repeat, budget)
                all_results.append((label, results, with_done))
                plans.append((label, plan))
        finally:
            if cluster_context is not None:
                cluster_context.__exit__(None, None, None)

    p = common.percentile
    rows, verdicts = [], []
    for label, results, with_done in all_results:
        base_api, base_page = p(results[0][4], 95), p(results[0][5], 95)
        for name, visible, query, counts, api, page in results:
            rows.append(row(label, name, visible, query, counts, api, page, base_api, base_page))
        at_100k = next(r for r in results if r[0] == "100,000 open")
        for what, samples, base in (("API", at_100k[4], base_api), ("page", at_100k[5], base_page)):
            p95 = p(samples, 95)
            growth = p95 / base
            verdicts.append(f"{label}: {what} p95 at 100k = {common.ms(p95)} (target < 25 ms: "
                            f"{'MET' if p95 < 0.025 else 'MISSED'}); growth 100k/1k = {growth:.2f} "
                            f"(target ≤ 1.5: {'MET' if growth <= 1.5 else 'MISSED'})")
        if with_done:   # timed in a second round, together with the smallest again: divided by that round's
            (small, *_, small_api, small_page), (name, visible, query, counts, api, page) = with_done
            rows.append(row(label, f"{small} (again, with the next)", *with_done[0][1:], p(small_api, 95),
                            p(small_page, 95)))
            rows.append(row(label, name, visible, query, counts, api, page, p(small_api, 95), p(small_page, 95)))
            verdicts.append(f"{label}: {name}: API p95 = {common.ms(p(api, 95))} "
                            f"({p(api, 95) / p(small_api, 95):.2f}× the 1k value timed with it), page p95 = "
                            f"{common.ms(p(page, 95))} ({p(page, 95) / p(small_page, 95):.2f}×)")
    say()
    say(common.table(["db", "tasks", "visible to user", "open_for p95", "counts p95", "API p50", "API p95",
                      "API p99", "API p95 ÷ 1k", "page p50", "page p95", "page p99", "page p95 ÷ 1k", "n"], rows))
    say()
    for line in verdicts:
        say(line)
    say(f"(the sizes timed together, {BATCH} requests of each kind per size in turn, up to {repeat} requests of each "
        f"kind per size or {budget:.0f} s per size; 'counts' = the three tab counts; the API "
        "is GET /api/v1/tasks?limit=25 with a bearer token (a page and its total); the page runs open_page + counts "
        "and adds the user, the bell, the process list and the template.)")
    for label, plan in plans:
        say()
        say(f"## Query plans, {label}, at the largest size")
        say(plan)


if __name__ == "__main__":
    main()
    common.footer()
