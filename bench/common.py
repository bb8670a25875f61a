"""Shared pieces of the benchmarks: generated diagrams, throw-away databases, a `baton serve`
subprocess, a keep-alive HTTP client, percentiles and the report table.

Nothing here is imported by the test suite; the benchmarks are run by hand (see bench/README.md).
"""
import contextlib
import http.client
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):          # the project, and tests/pg.py (the throw-away cluster)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from engine import database, definitions, users  # noqa: E402
from engine.access import Actor  # noqa: E402

BATON = str(Path(sys.executable).with_name("baton"))
OPERATOR = Actor("bench-operator", admin=True)
PASSWORD = "bench-password"
HOST = "127.0.0.1"   # every load in bench/ targets loopback only

CAMUNDA_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
                'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'id="Defs_bench" targetNamespace="http://baton.example/bench">\n')


# ---------------------------------------------------------------------------------------------
# Diagrams, generated so every benchmark states exactly what it runs
# ---------------------------------------------------------------------------------------------

def linear_bpmn(key="bench_linear", steps=10, group="bench"):
    """start → `steps` user tasks in a row (candidateGroups `group`, no forms) → end."""
    parts = [CAMUNDA_HEAD, f'  <bpmn:process id="{key}" name="Linear {steps} steps" isExecutable="true">\n',
             '    <bpmn:startEvent id="Start_bench" />\n']
    previous = "Start_bench"
    for n in range(1, steps + 1):
        parts.append(f'    <bpmn:sequenceFlow id="Flow_{n}" sourceRef="{previous}" targetRef="Task_{n}" />\n'
                     f'    <bpmn:userTask id="Task_{n}" name="Step {n}" camunda:candidateGroups="{group}" />\n')
        previous = f"Task_{n}"
    parts.append(f'    <bpmn:sequenceFlow id="Flow_end" sourceRef="{previous}" targetRef="End_bench" />\n'
                 '    <bpmn:endEvent id="End_bench" />\n  </bpmn:process>\n</bpmn:definitions>\n')
    return "".join(parts).encode()


def loop_bpmn(key="bench_loop", group="bench"):
    """One user task with a boolean form field `done`; an exclusive gateway loops back unless done."""
    return (CAMUNDA_HEAD + f'''  <bpmn:process id="{key}" name="Review loop" isExecutable="true">
    <bpmn:startEvent id="Start_loop" />
    <bpmn:sequenceFlow id="Flow_start" sourceRef="Start_loop" targetRef="Join_loop" />
    <bpmn:exclusiveGateway id="Join_loop" />
    <bpmn:sequenceFlow id="Flow_in" sourceRef="Join_loop" targetRef="Task_review" />
    <bpmn:userTask id="Task_review" name="Review the draft" camunda:candidateGroups="{group}">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="done" label="Done?" type="boolean" />
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_check" sourceRef="Task_review" targetRef="Gateway_done" />
    <bpmn:exclusiveGateway id="Gateway_done" name="Done?" default="Flow_again" />
    <bpmn:sequenceFlow id="Flow_done" sourceRef="Gateway_done" targetRef="End_loop">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">done == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_again" sourceRef="Gateway_done" targetRef="Join_loop" />
    <bpmn:endEvent id="End_loop" />
  </bpmn:process>
</bpmn:definitions>
''').encode()


def timer_bpmn(key="bench_timer", group="bench", duration="PT1M"):
    """start → intermediate timer (`duration`) → one user task → end."""
    return (CAMUNDA_HEAD + f'''  <bpmn:process id="{key}" name="Wait then act" isExecutable="true">
    <bpmn:startEvent id="Start_timer" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_timer" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_wait" targetRef="Task_after" />
    <bpmn:userTask id="Task_after" name="After the wait" camunda:candidateGroups="{group}" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_after" targetRef="End_timer" />
    <bpmn:endEvent id="End_timer" />
  </bpmn:process>
</bpmn:definitions>
''').encode()


def deploy(session, filename, content):
    definition, _ = definitions.deploy(session, [(filename, content)], OPERATOR)
    return definition


def add_user(session, username, roles, admin=False):
    return users.actor(users.create(session, username, PASSWORD, roles, admin))


# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def workdir(prefix="baton-bench-"):
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


def sqlite_url(folder, name="bench.sqlite3"):
    url = f"sqlite:///{Path(folder) / name}"
    database.upgrade(url)
    return url


@contextlib.contextmanager
def postgres_cluster():
    """A throw-away PostgreSQL cluster (tests/pg.py), always stopped. Note its settings:
    fsync=off, synchronous_commit=off, full_page_writes=off (a test cluster, not a durable one)."""
    from pg import Cluster
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def postgres_url(cluster):
    url = cluster.new_database()
    database.upgrade(url)
    return url


def quiet_alembic():
    import logging
    logging.getLogger("alembic").setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------------
# `baton serve` as a subprocess, and a keep-alive client
# ---------------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def baton_env(url, code=None):
    """The environment of a `baton …` subprocess on database `url`; `code`: a checkout of Baton whose
    packages it runs instead of this one's (bench/ab.py)."""
    env = {**os.environ, "BATON_DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
           "BATON_SECRET_KEY": "bench-secret"}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def baton(args, url, code=None):
    """Run `baton …` to its end; its standard output."""
    return subprocess.run([BATON, *args], env=baton_env(url, code), capture_output=True, text=True,
                          check=True).stdout


class BatonProcess:
    """A `baton …` subprocess in its own process group on the given database; stopped (the whole
    group: gunicorn's workers too) on exit, whatever happened."""

    def __init__(self, args, url, folder, name, code=None):
        self.args, self.url, self.folder, self.code = list(args), url, Path(folder), code
        self.log_path = self.folder / f"{name}.log"
        self.process = None
        self._log = None

    def start(self):
        env = baton_env(self.url, self.code)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen([BATON, *self.args], env=env, cwd=self.folder, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self):
        self.start()
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log is not None:
            self._log.close()
            self._log = None

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        return self.log_path.read_text(errors="replace")


class BatonServer(BatonProcess):
    """`baton serve --workers W --threads T` on loopback."""

    def __init__(self, url, folder, workers=2, threads=4, code=None):
        self.port = free_port()
        super().__init__(["serve", "--host", HOST, "--port", str(self.port), "--workers", str(workers),
                          "--threads", str(threads)], url, folder, f"serve-{self.port}", code)

    def __enter__(self):
        self.start()
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self, seconds=60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"baton serve exited early:\n{self.log_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
                connection.request("GET", "/login")
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("baton serve did not come up within a minute")

    def worker_cpu(self):
        """{pid: CPU seconds used so far} of the server's worker processes (Linux /proc)."""
        return {pid: cpu_seconds(pid) for pid in children(self.process.pid)}

    def log_problems(self):
        """Lines of the server log that show a fault (HTTP 500 or a traceback)."""
        text = self.log_text()
        return [line for line in text.splitlines() if '" 500 ' in line or "Traceback" in line]


def _stat(pid):
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()   # the fields after the command name


def children(pid):
    """The ids of the processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.isdigit() and int(_stat(entry)[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pid=None):
    """User + system CPU seconds used by process `pid` (this process when None), from /proc."""
    fields = _stat(pid or os.getpid())
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(name):
    """CPU seconds used so far by every process called `name` (e.g. "postgres") and by their children that
    have ended: a database backend that exits meanwhile stays counted, through its parent."""
    ticks = 0
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == name:
                ticks += sum(int(field) for field in _stat(entry)[11:15])   # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class Client:
    """One keep-alive HTTP/1.1 connection to the loopback server with a bearer token: the standard
    library's `http.client`, reopened once when the server closed it between calls."""

    def __init__(self, port, token, timeout=30):
        self.port, self.timeout = port, timeout
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = None

    def call(self, method, path, body=None):
        """(status, parsed JSON or None, seconds)."""
        payload = json.dumps(body).encode() if body is not None else b""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=payload, headers=self.headers)
                reply = self.connection.getresponse()
                raw = reply.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if reply.will_close:
                self.close()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            return reply.status, parsed, elapsed

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def complete_steps(client, task_id):
    """Complete task `task_id`, then each next task of its instance that the reply lists, with no form data;
    yields (status, seconds) per completion, and ends after the instance's last task or a status other than 200."""
    while task_id:
        status, body, elapsed = client.call("POST", f"/api/v1/tasks/{task_id}/complete", {"data": {}})
        yield status, elapsed
        if status != 200:
            return
        task_id = body["tasks"][0]["id"] if body and body.get("tasks") else None


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def table(headers, rows):
    """A plain-text table (also valid Markdown)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def postgres_version(cluster=None):
    from pg import _bin
    try:
        return subprocess.run([_bin("postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    except Exception as error:  # no PostgreSQL installed: say so in the header
        return f"PostgreSQL unavailable ({error})"


def header(title, mode):
    print(f"# {title}")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · mode {mode} · nproc {os.cpu_count()} · "
          f"Python {platform.python_version()} · SQLite {sqlite3.sqlite_version} · {postgres_version()} · "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print()


def footer():
    """Other work on the machine skews every figure: say how busy it was."""
    say(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)")


def say(text=""):
    print(text, flush=True)
