"""Timers: throughput of one worker, and lateness on the real clock.

Process: start → intermediate timer PT1M → user task (candidateGroups bench) → end.

A. Throughput. N instances are started under `engine.clock.frozen_at(T0)` (their timers are due at
   T0 + 1 min). One worker fires them all in-process with `engine.timers.fire_due(session, T0 + 2 min)`
   (500 per pass, as `baton worker` does) — then the N user tasks that appeared are completed
   directly with `engine.tasks.complete`: the BASELINE. Printed: timers/s, completions/s and the
   ratio fire ÷ complete (time per timer over time per completion).

B. Lateness. M instances are created whose timers fall due spread evenly over S seconds of the
   REAL clock, starting a little after creation ends; then a real `baton worker --interval 1`
   subprocess runs until all have fired. Lateness = when the timer_fired event was recorded − the
   due time, read from the events table in two ways:
     - `events.at`, the timestamp the engine writes (it is the *start of the worker pass*, see the
       report);
     - the database's own clock at the moment the event row was inserted (a trigger on the bench
       database writes it to a side table; the engine's schema is not touched).

    .venv/bin/python bench/timers.py [--quick] [--db sqlite|postgresql|both]
Defaults: N = 10,000, M = 1,000 over 60 s, on PostgreSQL (about 5 minutes);
--quick: N = 2,000, M = 200 over 20 s, on SQLite and PostgreSQL (about 2 minutes).
"""
import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import say  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from engine import clock, database, instances, tasks, timers  # noqa: E402
from engine.models import Event, HumanTask, Instance  # noqa: E402

KEY = "bench_timer"
T0 = datetime(2026, 12, 1, 9, 0)


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


def prepare(url):
    factory = database.connect(url)
    session = factory()
    common.deploy(session, "timer.bpmn", common.timer_bpmn(KEY))
    actor = common.add_user(session, "bench", ["bench"])
    return factory, session, actor


def throughput(url, n):
    """Part A on one database: (start s, fire s, fired, complete s, completed)."""
    factory, session, actor = prepare(url)
    with clock.frozen_at(T0):
        started = time.perf_counter()
        for _ in range(n):
            instances.start(session, KEY, {}, common.OPERATOR)
        start_s = time.perf_counter() - started
        assert session.scalar(select(func.count()).select_from(Instance).where(
            Instance.next_timer_at == T0 + timedelta(minutes=1))) == n

        moment = T0 + timedelta(minutes=2)
        clock.travel(moment)
        fired = 0
        started = time.perf_counter()
        while count := timers.fire_due(session, moment):
            fired += count
        fire_s = time.perf_counter() - started

        ids = list(session.scalars(select(HumanTask.id).where(HumanTask.state == "open")))
        assert len(ids) == n, f"{len(ids)} tasks appeared for {n} timers"
        started = time.perf_counter()
        for task_id in ids:
            tasks.complete(session, task_id, actor, {})
        complete_s = time.perf_counter() - started
    done = session.scalar(select(func.count()).select_from(Instance).where(Instance.status == "completed"))
    session.close()
    return start_s, fire_s, fired, complete_s, done


RECORDER = {
    "postgresql": ["CREATE TABLE bench_recorded (event_id integer PRIMARY KEY, recorded_at timestamp NOT NULL)",
                   """CREATE FUNCTION bench_record() RETURNS trigger AS $$
                      BEGIN INSERT INTO bench_recorded VALUES (NEW.id, clock_timestamp() AT TIME ZONE 'UTC');
                      RETURN NEW; END $$ LANGUAGE plpgsql""",
                   """CREATE TRIGGER bench_record AFTER INSERT ON events FOR EACH ROW
                      WHEN (NEW.type = 'timer_fired') EXECUTE FUNCTION bench_record()"""],
    "sqlite": ["CREATE TABLE bench_recorded (event_id integer PRIMARY KEY, recorded_at text NOT NULL)",
               """CREATE TRIGGER bench_record AFTER INSERT ON events WHEN NEW.type = 'timer_fired'
                  BEGIN INSERT INTO bench_recorded VALUES (NEW.id, strftime('%Y-%m-%d %H:%M:%f', 'now')); END"""],
}


def lateness(url, folder, m, spread, per_start):
    """Part B on one database: returns (fired, engine lateness list, recorded lateness list, notes)."""
    factory, session, _ = prepare(url)
    dialect = session.get_bind().dialect.name
    for statement in RECORDER[dialect]:
        session.execute(text(statement))
    session.commit()
    lead = 5 + 1.5 * m * per_start        # creation must end before the first timer is due
    base = utcnow() + timedelta(seconds=lead)
    dues = [base + timedelta(seconds=spread * i / m) for i in range(m)]
    for due in dues:
        with clock.frozen_at(due - timedelta(minutes=1)):   # PT1M from this moment = `due`
            instances.start(session, KEY, {}, common.OPERATOR)
    created = utcnow()
    notes = []
    if created > base:
        notes.append(f"creation ended {(created - base).total_seconds():.1f} s after the first due time")
    fired = 0
    with common.BatonProcess(["worker", "--interval", "1"], url, folder, f"worker-{dialect}") as worker:
        end = dues[-1] + timedelta(seconds=60)
        while utcnow() < end:
            time.sleep(1)
            fired = session.scalar(select(func.count()).select_from(Event).where(Event.type == "timer_fired"))
            session.commit()
            if fired >= m:
                break
        if worker.process.poll() is not None:
            notes.append(f"the worker exited early: {worker.log_text()[-1000:]}")
    rows = session.execute(text(
        "SELECT e.at, e.data, r.recorded_at FROM events e JOIN bench_recorded r ON r.event_id = e.id "
        "WHERE e.type = 'timer_fired'")).all()
    per_instance = session.execute(select(Event.instance_id, func.count()).where(Event.type == "timer_fired")
                                   .group_by(Event.instance_id).having(func.count() > 1)).all()
    if per_instance:
        notes.append(f"{len(per_instance)} instances fired more than once")
    session.close()
    engine_late, recorded_late = [], []
    for at, data, recorded in rows:
        data = data if isinstance(data, dict) else json.loads(data)
        due = datetime.fromisoformat(data["due"])
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if isinstance(recorded, str):
            recorded = datetime.fromisoformat(recorded)
        engine_late.append((at - due).total_seconds())
        recorded_late.append((recorded - due).total_seconds())
    return len(rows), engine_late, recorded_late, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"],
                        help="default: postgresql (the multi-worker set-up); quick: both")
    parser.add_argument("--timers", type=int, help="N for part A (default 10,000; quick 2,000)")
    parser.add_argument("--late", type=int, help="M for part B (default 1,000; quick 200)")
    parser.add_argument("--spread", type=float, help="seconds over which part B's timers fall due (60; quick 20)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-lateness", action="store_true")
    args = parser.parse_args()
    common.quiet_alembic()
    n = args.timers or (2_000 if args.quick else 10_000)
    m = args.late or (200 if args.quick else 1_000)
    spread = args.spread or (20 if args.quick else 60)
    common.header("Timers: one worker's throughput, and lateness on the real clock", "quick" if args.quick else
                  "default")
    db_choice = args.db or ("both" if args.quick else "postgresql")
    dbs = ["sqlite", "postgresql"] if db_choice == "both" else [db_choice]
    part_a, part_b = [], []
    per_start = 0.01
    with common.workdir() as folder:
        cluster_context = cluster = None
        try:
            if "postgresql" in dbs:
                cluster_context = common.postgres_cluster()
                cluster = cluster_context.__enter__()
            urls = {"sqlite": lambda name: common.sqlite_url(folder, f"{name}.sqlite3"),
                    "postgresql": lambda name: common.postgres_url(cluster)}
            label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
            for db in dbs:
                if not args.skip_throughput:
                    say(f"A on {label[db]}: starting {n:,} instances, firing their timers, completing their tasks …")
                    result = throughput(urls[db]("throughput"), n)
                    part_a.append((label[db], *result))
                    per_start = result[0] / n
                if not args.skip_lateness:
                    say(f"B on {label[db]}: {m:,} timers due over {spread:.0f} s of the real clock, "
                        "`baton worker --interval 1` …")
                    part_b.append((label[db], *lateness(urls[db]("lateness"), folder, m, spread, per_start)))
        finally:
            if cluster_context is not None:
                cluster_context.__exit__(None, None, None)

    if part_a:
        say()
        say(common.table(["db", "timers", "start (setup)", "fire all (one worker)", "timers/s",
                          "complete all (baseline)", "completions/s", "time per timer ÷ time per completion"],
                         [(db, f"{fired:,}", f"{start_s:.1f} s", f"{fire_s:.1f} s", f"{fired / fire_s:.0f}",
                           f"{complete_s:.1f} s", f"{done / complete_s:.0f}",
                           f"{(fire_s / fired) / (complete_s / done):.2f}")
                          for db, start_s, fire_s, fired, complete_s, done in part_a]))
    if part_b:
        p = common.percentile
        rows = []
        for db, fired, engine_late, recorded_late, _notes in part_b:
            for what, values in (("events.at − due", engine_late), ("row inserted − due", recorded_late)):
                rows.append((db, f"{fired:,} of {m:,}", what, f"{p(values, 50):.2f} s", f"{p(values, 99):.2f} s",
                             f"{max(values):.2f} s", f"{min(values):.2f} s"))
        say()
        say(common.table(["db", "fired", "lateness", "p50", "p99", "max", "min"], rows))
        for db, _, _, _, notes in part_b:
            for note in notes:
                say(f"{db}: NOTE {note}")
        say(f"({m:,} timers due evenly over {spread:.0f} s; worker polls every 1 s)")


if __name__ == "__main__":
    main()
    common.footer()
