"""The manager's views at scale: `insight.overview`, `insight.board` and `insight.analytics` with many
completed tasks in the database (default: quick, 20,000 completed tasks; `--full`: 1,000,000).

One process version of a 10-step linear process (`common.linear_bpmn`), completed instances of 10 tasks
each (ready → claimed after 0 – 4 h → completed after 0 – 8 h more, 30 % with a due date), plus 2,000
running instances with one open task each (a tenth overdue, 5 % claimed), fabricated with bulk inserts.
Each view is called `--repeat` times through the engine (no HTTP) as the manager; p50/p95. Target:
p95 < 200 ms at 1,000,000 completed tasks. The analytics are timed twice: as a page gets them (the
figures the worker keeps for a version past BATON_ANALYTICS_LIVE_LIMIT completed steps, after one worker
refresh) and as computed from every row (what the worker's refresh costs, and the page below the limit).

    .venv/bin/python bench/manager_views.py [--quick | --full] [--db sqlite|postgresql|both]
"""
import argparse
import time
import uuid
from datetime import datetime, timedelta
from random import Random

import common
from inbox_scale import Filler

from engine import clock, database
from engine.access import Actor
from engine.insight import analytics, board, overview

KEY = "bench_linear"
NOW = datetime(2026, 12, 1, 12, 0)
MANAGER = Actor("bench-manager", frozenset({"manager"}))
OPEN = 2_000


def _claimer(rng, is_open, claimed_at):
    """5 % of the open tasks are claimed by someone; a completed task by u01 when it was claimed."""
    if is_open:
        return f"u{rng.randrange(100):02d}" if rng.random() < 0.05 else None
    return "u01" if claimed_at else None


def fill(session, completed):
    """The instances and task rows of the scenario, by bulk insert."""
    definition = common.deploy(session, "linear.bpmn", common.linear_bpmn(KEY))
    filler, rng = Filler(session), Random(7)
    instances, tasks = [], []
    n_done = -(-completed // 10)
    for n in range(n_done + OPEN):
        instance_id = 100_000_000 + n
        started = NOW - timedelta(minutes=rng.randrange(60 * 24 * 120))
        running = n >= n_done
        at, steps = started, (rng.randrange(1, 11) if running else 10)
        for step in range(1, steps + 1):
            ready = at
            claimed = ready + timedelta(minutes=rng.randrange(240)) if rng.random() < 0.7 else None
            done = (claimed or ready) + timedelta(minutes=rng.randrange(1, 480))
            due = ready + timedelta(hours=8) if rng.random() < 0.3 else None
            is_open = running and step == steps
            if is_open:
                due = NOW + timedelta(hours=rng.randrange(-48, 240)) if rng.random() < 0.5 else NOW - timedelta(hours=1)
            tasks.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), instance_id, KEY, "Linear 10 steps",
                          f"Campaign {n}", f"Task_{step}", f"Step {step}", None, ["bench"], None,
                          _claimer(rng, is_open, claimed),
                          "open" if is_open else "completed", [], "", due, None, ready,
                          None if is_open else done, None if is_open else "u01", None, None, ["role:bench"],
                          None if is_open else claimed))
            at = done
        instances.append((instance_id, definition.id, KEY, "Linear 10 steps", 1, "running" if running else "completed",
                          f"Campaign {n}", b"", {}, None, "u01", started, at, None if running else at, None, 1))
    filler.insert("instances", ["id", "definition_id", "process_key", "process_name", "version", "status", "label",
                                "state", "data", "incident", "started_by", "created_at", "updated_at", "ended_at",
                                "next_timer_at", "lock_version"], instances)
    filler.insert("human_tasks", ["id", "instance_id", "process_key", "process_name", "instance_label", "element_id",
                                  "name", "lane", "roles", "assignee", "claimed_by", "state", "form", "documentation",
                                  "due_at", "follow_up_at", "created_at", "completed_at", "completed_by",
                                  "reminder_sent_at", "overdue_sent_at", "candidate_keys", "claimed_at"], tasks)
    filler.insert("task_candidates", ["task_id", "key", "shared", "claimed_by", "due_at", "created_at"],
                  [(t[0], "role:bench", False, t[10], t[14], t[16]) for t in tasks if t[11] == "open"])
    filler.analyze()
    return sum(t[11] == "completed" for t in tasks)


def timed(call, repeat):
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        took.append(time.perf_counter() - started)
    return common.percentile(took, 50), common.percentile(took, 95)


def measure(url, completed, repeat):
    session = database.connect(url)()
    try:
        done = fill(session, completed)
        views = {"overview": lambda: overview.overview(session, MANAGER, NOW),
                 "board": lambda: board.board(session, MANAGER, KEY, NOW),
                 "analytics (kept)": lambda: analytics.analytics(session, KEY, live_limit=0),
                 "analytics (computed)": lambda: analytics.analytics(session, KEY, live_limit=done)}
        with clock.frozen_at(NOW):
            analytics.refresh_due(session, NOW)   # the worker's pass that keeps the figures
            for view in views.values():   # warm: the definition's specs parsed once, statements compiled
                view()
            return done, {name: timed(view, repeat) for name, view in views.items()}
    finally:
        session.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="20,000 completed tasks (the default)")
    size.add_argument("--full", action="store_true", help="1,000,000 completed tasks")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    completed = 1_000_000 if args.full else 20_000
    common.quiet_alembic()
    common.header("The manager's views: overview, board, analytics", "full" if args.full else "quick")
    rows = []
    with common.workdir() as folder:
        targets = []
        if args.db in ("sqlite", "both"):
            targets.append(("SQLite", lambda: common.sqlite_url(folder)))
        if args.db in ("postgresql", "both"):
            targets.append(("PostgreSQL", None))
        for label, make_url in targets:
            if make_url is None:
                with common.postgres_cluster() as cluster:
                    done, figures = measure(common.postgres_url(cluster), completed, args.repeat)
            else:
                done, figures = measure(make_url(), completed, args.repeat)
            for name, (p50, p95) in figures.items():
                target = "the worker's cost" if name == "analytics (computed)" else "met" if p95 < 0.2 else "missed"
                rows.append((label, f"{done:,}", name, common.ms(p50), common.ms(p95), target))
    common.say(common.table(("database", "completed tasks", "view", "p50", "p95", "p95 < 200 ms"), rows))
    common.footer()


if __name__ == "__main__":
    main()
