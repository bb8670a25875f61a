"""The README's first command, as a newcomer runs it: `make run` in a fresh folder with nothing set in the
environment. Its recipe's `baton` commands run here in a temporary working directory, against the default
database, and a real `baton serve` must answer with the demo in it."""
import base64
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from live import free_port

BATON = Path(sys.executable).with_name("baton")
MAKEFILE = Path(__file__).resolve().parent.parent / "Makefile"
FIRST_RUN = ["db upgrade", "demo", "worker", "serve"]   # what `make run` runs, in order


def _environment():
    """The caller's environment without any Baton setting: the defaults are what is tested."""
    return {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}




def _get(url, user=None, password=None):
    request = urllib.request.Request(url)
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, reply.read().decode()


def _wait_until_serving(url, process, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"baton serve exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            return _get(url)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"baton serve did not answer {url} within {deadline} s")


def test_make_run_recipe_is_the_one_tested_here():
    """If `make run` changes its commands, this test must change with it."""
    recipe = MAKEFILE.read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"\$\(BIN\)/baton ([a-z]+(?: upgrade)?)", recipe) == FIRST_RUN


@pytest.fixture
def fresh_folder(tmp_path):
    folder = tmp_path / "newcomer"
    folder.mkdir()
    return folder


@pytest.mark.default_database
@pytest.mark.long
def test_first_run_serves_the_demo_from_the_default_database(fresh_folder):
    env = _environment()

    def baton(*args):
        result = subprocess.run([str(BATON), *args], cwd=fresh_folder, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, f"baton {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    database_file = fresh_folder / "baton.sqlite3"
    assert f"database {database_file} is up to date" in baton("db", "upgrade")
    demo = baton("demo")
    assert f"Demo data in {database_file}." in demo
    manager = next(line.split() for line in demo.splitlines() if line.strip().startswith("marketing_manager "))
    assert manager[1] == "marketing_manager-demo" and "manager" in " ".join(manager[2:]).split(", ")

    port = free_port()
    worker = subprocess.Popen([str(BATON), "worker", "--interval", "0.5"], cwd=fresh_folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    server = subprocess.Popen([str(BATON), "serve", "--port", str(port)], cwd=fresh_folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        status, page = _wait_until_serving(f"{base}/login", server)
        assert status == 200 and 'id="password"' in page
        status, body = _get(f"{base}/api/v1/tasks?tab=all&limit=100", "admin", "admin-demo")
        demo_tasks = json.loads(body)
        assert status == 200 and len(demo_tasks) >= 10
        assert {"Create the outline", "Generate the idea"} <= {task["name"] for task in demo_tasks}
        assert sorted(path.name for path in fresh_folder.iterdir() if path.suffix == ".sqlite3") == ["baton.sqlite3"]
        ready, _, _ = select.select([worker.stdout], [], [], 120)   # the worker starts on its own time: wait for
        worker_start = worker.stdout.readline() if ready else ""   # its start line before stopping it
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
        server_output = server.communicate(timeout=30)[0]
        worker_output = worker.communicate(timeout=30)[0]
    assert f"serving on {base}/ with database {database_file}" in server_output
    assert f"worker polling every 0.5 s with database {database_file}" in worker_start + worker_output
