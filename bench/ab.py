"""Is a change faster? The full stack of engine_overhead.py (d), A/B: the code of a base commit (A, a git
worktree in a temporary folder) against the working tree (B), each with its own `baton serve` and database
of the same kind, set up by its own code. The load alternates between them in windows of one second: this
machine's speed drifts by half within a minute, which swamps a change of a few per cent between two runs
of engine_overhead.py, but falls on both sides of one A/B run alike.

    .venv/bin/python bench/ab.py [--base HEAD] [--db postgresql|sqlite] [--seconds 60]
                                 [--workers 2] [--threads 4] [--clients 4]

Prints per side completions/s, latency p50/p99, CPU per completion of its web processes and of the
database server, and B ÷ A. With no change in the working tree (A/A) it shows the noise.
"""
import argparse
import collections
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import say  # noqa: E402
from engine_overhead import KEY, STEPS, Gate, chain  # noqa: E402

WINDOW = 1.0   # seconds of load on one side before the other's turn
INSTANCES_PER_SECOND = 80   # of load: more than a side completes on this machine (10 steps each)


class Side:
    """One code tree served on its own database: its instances, its clients and what they measured."""

    def __init__(self, name, code, url, folder, args):
        self.name, self.code, self.url = name, code, url
        common.baton(["db", "upgrade"], url, code)
        common.baton(["users", "add", "bench", "--password", common.PASSWORD, "--role", "bench"], url, code)
        self.token = common.baton(["users", "token", "bench"], url, code).strip()
        diagram = Path(folder) / f"linear-{name}.bpmn"
        diagram.write_bytes(common.linear_bpmn(KEY, STEPS))
        common.baton(["deploy", str(diagram)], url, code)
        self.server = common.BatonServer(url, folder, args.workers, args.threads, code)
        self.clients, self.gate, self.queue = args.clients, Gate(), collections.deque()
        self.instances = int(args.seconds * INSTANCES_PER_SECOND)
        self.latencies, self.lock, self.threads = [], threading.Lock(), []
        self.seconds = self.web_cpu = self.database_cpu = 0.0

    def start(self):
        self.server.__enter__()
        client = common.Client(self.server.port, self.token)
        for _ in range(self.instances + self.clients):
            status, body, _ = client.call("POST", f"/api/v1/processes/{KEY}/instances", {"data": {}})
            if status != 201:
                raise RuntimeError(f"{self.name}: starting an instance gave {status} {body}")
            self.queue.append(body["tasks"][0]["id"])
        for _ in range(self.clients):   # a warm-up instance per client parses the bundle in the web processes
            chain(client, self.queue.popleft())
        client.close()
        self.threads = [threading.Thread(target=self._run) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()

    def _record(self, status, elapsed):
        if status != 200:
            raise RuntimeError(f"{self.name}: a completion gave {status}; see {self.server.log_path}")
        with self.lock:
            self.latencies.append(elapsed)

    def _run(self):
        client = common.Client(self.server.port, self.token)
        try:
            while self.queue:
                if not chain(client, self.queue.popleft(), self.gate, self._record):
                    break
                client.close()   # a new connection per instance, as engine_overhead.py (d) does
        finally:
            client.close()

    def window(self):
        """Load this side alone for WINDOW seconds; what it used is added to its figures."""
        web, database, started = self._web_cpu(), common.cpu_seconds_of("postgres"), time.perf_counter()
        self.gate.open()
        time.sleep(WINDOW)
        self.gate.close()
        self.seconds += time.perf_counter() - started
        self.web_cpu += self._web_cpu() - web
        self.database_cpu += common.cpu_seconds_of("postgres") - database

    def _web_cpu(self):
        return sum(self.server.worker_cpu().values())

    def stop(self):
        self.gate.stop()
        for thread in self.threads:
            thread.join()
        self.server.stop()

    def figures(self):
        done = max(len(self.latencies), 1)
        return {"rate": len(self.latencies) / self.seconds, "web": self.web_cpu / done, "database": self.database_cpu / done,
                "p50": common.percentile(self.latencies, 50), "p99": common.percentile(self.latencies, 99)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the commit side A runs (default HEAD)")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seconds", type=float, default=60, help="seconds of load on each side")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    common.header(f"A/B through the full stack: {args.base} (A) against the working tree (B), {args.db}", "default")
    with common.workdir() as folder, tempfile.TemporaryDirectory(prefix="baton-ab-") as base:
        subprocess.run(["git", "-C", str(common.ROOT), "worktree", "add", "--detach", base, args.base], check=True,
                       capture_output=True)
        try:
            with (common.postgres_cluster() if args.db == "postgresql" else contextlib.nullcontext()) as cluster:
                def url(name):   # empty: each side's own migrations make its schema
                    return cluster.new_database() if cluster else f"sqlite:///{folder / name}.sqlite3"
                sides = [Side("A", Path(base), url("a"), folder, args), Side("B", common.ROOT, url("b"), folder, args)]
                _measure(sides, args.seconds)
        finally:
            subprocess.run(["git", "-C", str(common.ROOT), "worktree", "remove", "--force", base], capture_output=True)


def _measure(sides, seconds):
    try:
        for side in sides:
            side.start()
        say(f"{sides[0].instances} instances of {STEPS} steps on each side; windows of {WINDOW:.0f} s, A then B, "
            f"for {seconds:.0f} s of load on each …")
        while sides[0].seconds < seconds and all(side.queue for side in sides):
            for side in sides:
                side.window()
    finally:
        for side in sides:
            side.stop()
    a, b = (side.figures() for side in sides)
    rows = [(side.name, f"{f['rate']:.0f}", f"{common.ms(f['p50'])} / {common.ms(f['p99'])}", f"{f['web'] * 1000:.2f} ms",
             f"{f['database'] * 1000:.2f} ms") for side, f in zip(sides, (a, b))]
    rows.append(("B ÷ A", f"{b['rate'] / a['rate']:.3f}", "", f"{b['web'] / a['web']:.3f}",
                 f"{b['database'] / a['database']:.3f}" if a["database"] else "–"))
    say(common.table(["side", "completions/s", "latency p50 / p99", "web CPU per completion",
                      "database server CPU per completion"], rows))


if __name__ == "__main__":
    main()
    common.footer()
