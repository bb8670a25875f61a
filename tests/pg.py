"""A throw-away PostgreSQL cluster for the tests: initdb in a temporary folder, a free local port,
stopped at the end. Uses Debian's `postgresql` package (installed by `make test`)."""
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from live import free_port

INSTALL_HINT = "PostgreSQL server binaries not found: run `make system-packages` (apt-get install postgresql)"


def _bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return found[-1]




class Cluster:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="baton-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0   # initdb refuses root: run the server as `postgres`
        self._counter = 0

    def _run(self, *args):
        command = ["runuser", "-u", "postgres", "--", *args] if self._as_root else list(args)
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self):
        if self._as_root:
            shutil.chown(self.folder, "postgres")
        self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "baton", "--no-sync", "-E", "UTF8")
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                  f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def admin_url(self):
        return f"postgresql://baton@127.0.0.1:{self.port}/postgres"

    def new_database(self, template=None):
        """A fresh database, empty or a copy of the database named `template` (PostgreSQL copies it
        file by file, far faster than running the migrations again); returns its SQLAlchemy URL."""
        self._counter += 1
        name = f"baton_{os.getpid()}_{self._counter}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy}')
        return f"postgresql+psycopg://baton@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url):
        """Drops the database at `url`, ending any connection to it a test left open."""
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def stop(self):
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
