"""What a long-lived instance costs: one review loop (user task `Task_review` with a boolean form
field `done`, an exclusive gateway looping back unless done) run for 10, 100 and 400 rounds.

  - one completion (`engine.tasks.complete`, done=false) after 10, 100, 200 and 400 rounds, as a ratio
    to the cost after 10 rounds, with the serialised state size and the load/dump share;
  - the instance page `/instances/<id>` (signed-in Flask test client) after 10 and 200 completed tasks
    (target: under 200 ms at 200), and `progress.json`, which the page's diagram fetches next; then the
    page again after `gc.freeze()` (what a server could do once started), to show what the slow
    requests are made of: full garbage collections.

On SQLite and PostgreSQL.

    .venv/bin/python bench/long_instances.py [--quick] [--no-postgres]
"""
import argparse
import functools
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import say  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine import database, instances, tasks, workflows  # noqa: E402
from engine.models import HumanTask  # noqa: E402
from web import create_app  # noqa: E402

KEY = "bench_loop"


class Phases:
    """Adds up the time spent in workflows.load / workflows.dump while active."""

    def __init__(self):
        self.spent = {"load": 0.0, "dump": 0.0}
        self.size = 0
        self._originals = {}

    def __enter__(self):
        for name in self.spent:
            original = getattr(workflows, name)
            self._originals[name] = original

            @functools.wraps(original)
            def timed(*args, _name=name, _original=original, **kwargs):
                started = time.perf_counter()
                try:
                    result = _original(*args, **kwargs)
                finally:
                    self.spent[_name] += time.perf_counter() - started
                if _name == "dump" and not self.size:
                    self.size = len(result)   # the state right after the mark
                return result
            setattr(workflows, name, timed)
        return self

    def __exit__(self, *exc):
        for name, original in self._originals.items():
            setattr(workflows, name, original)


def open_task(session, instance_id):
    return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.state == "open"))


def page_client(url, username):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options(url),
                      "SECRET_KEY": "bench-secret", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": common.PASSWORD}).status_code == 302
    return client


def time_page(client, path, repeat):
    samples = []
    client.get(path)   # warm: templates compiled, bundle parsed
    for _ in range(repeat):
        started = time.perf_counter()
        reply = client.get(path)
        samples.append(time.perf_counter() - started)
        assert reply.status_code == 200, f"{path}: {reply.status_code}"
    return samples


def run(url, marks, page_marks, sample, page_repeat):
    """Returns {rounds: (seconds per completion, load, dump, state bytes)}, {rounds: {page: samples}}."""
    factory = database.connect(url)
    session = factory()
    common.deploy(session, "loop.bpmn", common.loop_bpmn(KEY))
    actor = common.add_user(session, "reviewer", ["bench"])
    instance = instances.start(session, KEY, {}, common.OPERATOR)
    client = page_client(url, "reviewer")
    done, costs, pages = 0, {}, {}

    def complete():
        nonlocal done
        tasks.complete(session, open_task(session, instance.id), actor, {"done": False})
        done += 1

    for mark in sorted(set(marks) | set(page_marks)):
        while done < mark:
            complete()
        if mark in page_marks:
            pages[mark] = {"page": time_page(client, f"/instances/{instance.id}", page_repeat),
                           "progress.json": time_page(client, f"/instances/{instance.id}/progress.json",
                                                      page_repeat)}
            gc.freeze()   # what-if: long-lived objects out of the collector's way, as a server could do at start
            try:
                pages[mark]["page, after gc.freeze()"] = time_page(client, f"/instances/{instance.id}", page_repeat)
            finally:
                gc.unfreeze()
        if mark in marks:
            totals, loads, dumps = [], [], []
            with Phases() as phases:
                for _ in range(sample):
                    load, dump = phases.spent["load"], phases.spent["dump"]
                    started = time.perf_counter()
                    complete()
                    totals.append(time.perf_counter() - started)
                    loads.append(phases.spent["load"] - load)
                    dumps.append(phases.spent["dump"] - dump)
            median = statistics.median
            costs[mark] = (median(totals), median(loads), median(dumps), phases.size)
    finished = tasks.complete(session, open_task(session, instance.id), actor, {"done": True})
    assert finished.status == "completed", f"the loop did not end: {finished.status} {finished.incident}"
    session.close()
    return costs, pages


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    common.quiet_alembic()
    marks, page_marks = [10, 100, 200, 400], [10, 200]
    sample, page_repeat = (5, 20) if args.quick else (15, 50)
    common.header("Long-lived instances (one-task review loop)", "quick" if args.quick else "default")
    results = []
    with common.workdir() as folder:
        say("running on SQLite …")
        results.append(("SQLite", *run(common.sqlite_url(folder), marks, page_marks, sample, page_repeat)))
        if not args.no_postgres:
            with common.postgres_cluster() as cluster:
                say("running on PostgreSQL …")
                results.append(("PostgreSQL", *run(common.postgres_url(cluster), marks, page_marks, sample,
                                                   page_repeat)))
    rows, page_rows, verdicts = [], [], []
    p = common.percentile
    for label, costs, pages in results:
        base = costs[marks[0]][0]
        for mark, (cost, load, dump, size) in costs.items():
            rows.append((label, mark, common.ms(cost), f"{cost / base:.2f}", common.ms(load), common.ms(dump),
                         f"{size / 1024:.0f} KB"))
        for mark, measured in pages.items():
            for what, samples in measured.items():
                page_rows.append((label, mark, what, common.ms(p(samples, 50)), common.ms(p(samples, 95)),
                                  common.ms(max(samples)), len(samples)))
        page_p95 = p(pages[200]["page"], 95)
        verdicts.append(f"{label}: instance page at 200 completed tasks p95 = {common.ms(page_p95)} "
                        f"(target < 200 ms: {'MET' if page_p95 < 0.2 else 'MISSED'}); with progress.json "
                        f"p95 = {common.ms(p(pages[200]['progress.json'], 95))}")
        verdicts.append(f"{label}: a completion after 400 rounds costs {costs[400][0] / base:.2f}× one after 10")
    say()
    say(common.table(["db", "rounds done", "one completion", "ratio to 10 rounds", "of which load", "of which dump",
                      "state (gzip)"], rows))
    say()
    say(common.table(["db", "completed tasks", "request", "p50", "p95", "max", "n"], page_rows))
    say()
    for line in verdicts:
        say(line)
    say(f"(each completion figure is the median of {sample} completions right after the mark)")


if __name__ == "__main__":
    main()
    common.footer()
