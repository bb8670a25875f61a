"""Shared fixtures: a migrated database per test, the Flask app on it, people in roles, API clients."""
import base64
import functools
import os
import shutil
import tempfile
from io import BytesIO
from pathlib import Path

import contract
import pytest
from pg import Cluster
from werkzeug.routing.rules import Rule

from engine import database, users
from engine.access import Actor
from web import create_app


def _files_in_memory(folder=Path("/dev/shm"), room=4 << 30):
    """The suite's temporary files (each test's SQLite file, each process's PostgreSQL cluster, Chromium's
    profiles) go to memory where the machine offers it, for this process and every one it starts: the
    suite creates and deletes some thousand databases, and on a VM's disk a copy of the PostgreSQL one
    took 300 ms instead of 30. Only with `room` to spare (a container's /dev/shm is often 64 MB; a full run
    here peaked at 350 MB, and each PostgreSQL cluster may keep up to 1 GB of write-ahead log). A TMPDIR
    the caller chose is kept."""
    if "TMPDIR" in os.environ or not (folder.is_dir() and os.access(folder, os.W_OK)):
        return
    space = os.statvfs(folder)
    if space.f_bavail * space.f_frsize >= room:
        os.environ["TMPDIR"] = str(folder)
        tempfile.tempdir = None   # asked again on the next use


_files_in_memory()
DIAGRAMS = Path(__file__).parent / "diagrams"
# the 21 MIWG reference diagrams, kept in the repository with their licence (tests/conformance/miwg/README.md)
MIWG = sorted((Path(__file__).parent / "conformance" / "miwg").glob("*.bpmn"))
PASSWORD = "password-1"
PEOPLE = {  # username → (roles, admin)
    "mia": (["manager"], False), "walt": (["writer"], False), "wendy": (["Writer"], False),
    "dora": (["designer"], False), "ed": (["modeller"], False), "admin": ([], True), "nobody": ([], False),
}


def diagram(name):
    return (DIAGRAMS / name).read_bytes()


DATABASES = ("sqlite", "postgresql")
# `BATON_TEST_DB=sqlite` or `=postgresql` runs one database's share of the suite; unset, both
ONLY = os.environ.get("BATON_TEST_DB")


def _compile_each_url_builder_once():
    """Nearly every test builds its own app, and Werkzeug compiles two Python functions per URL rule for
    each app (a fifth of a second per app, most of `create_app`). A builder depends only on the rule's
    parts, its defaults and its converters' kinds (it reads the converters themselves when called), so
    the suite compiles each once and binds it to every app's rule. Production builds one app: untouched."""
    compile_builder, compiled = Rule._compile_builder, {}

    def once(rule, append_unknown=True):
        key = (tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown,
               repr(sorted((name, type(c).__qualname__) for name, c in rule._converters.items())))
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    Rule._compile_builder = once


_compile_each_url_builder_once()


def _hash_each_password_once():
    """scrypt costs about 0.15 s of CPU per password, on purpose, and the suite's people, demo logins and
    sign-ins asked for it some 560 times per database (an eighth of the suite's CPU). Each test process
    hashes a password once and checks a (hash, password) pair once, with Werkzeug's own scrypt: what a
    check answers is unchanged (a wrong password is still wrong, a new password gets a new hash), only
    the same work is not repeated. Production hashes every time: untouched."""
    generate, check = users.generate_password_hash, users.check_password_hash

    @functools.cache
    def generate_once(password):
        return generate(password)

    users.generate_password_hash = generate_once
    users.check_password_hash = functools.cache(check)


_hash_each_password_once()


def databases_for(item):
    """The databases a test runs on. A test that asks for `db_url` runs on each of them (its id ends in
    `[sqlite]` or `[postgresql]`), in the same run, so the two share the cores and neither waits for the
    other's slowest test. A test pins one database when the other cannot change its answer: one that asks
    for `pg_url` runs on PostgreSQL; one marked `default_database` (it runs `baton` with no database set)
    or `same_on_any_database` (what it checks, a page in the browser or the reading of a file, no database
    changes), and one that never asks for `db_url` (it needs no database, or makes its own SQLite file),
    on SQLite; one marked `strictest_database` (it hunts for values a database refuses) on PostgreSQL,
    which enforces column lengths and types that SQLite lets through."""
    if "pg_url" in item.fixturenames or item.get_closest_marker("strictest_database"):
        return ("postgresql",)
    if (item.get_closest_marker("default_database") or item.get_closest_marker("same_on_any_database")
            or "db_url" not in item.fixturenames):
        return ("sqlite",)
    return DATABASES


def pytest_generate_tests(metafunc):
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize("database_kind", databases_for(metafunc.definition))


def pytest_collection_modifyitems(config, items):
    """Tests marked `long` go first, so that the processes share them out early instead of one of them
    running the last long test alone at the end (`make test` hands each process two tests at a time,
    `--maxschedchunk 2`: with xdist's default first handful of a quarter of the suite, one process got
    every long test and ran 100 s after the others had finished). With `BATON_TEST_DB` set, only that
    database's share runs."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)   # stable: otherwise in file order
    if not ONLY:
        return
    if ONLY not in DATABASES:
        raise pytest.UsageError(f"BATON_TEST_DB must be one of {', '.join(DATABASES)}, not {ONLY!r}")
    elsewhere = [item for item in items if ONLY not in databases_for(item)
                 or getattr(item, "callspec", None) and item.callspec.params.get("database_kind", ONLY) != ONLY]
    config.hook.pytest_deselected(items=elsewhere)
    items[:] = [item for item in items if item not in elsewhere]


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster for the whole run."""
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


def _staff(url):
    """Adds the people of PEOPLE to the database at `url`."""
    factory = database.connect(url)
    with factory() as session:
        for name, (roles, admin) in PEOPLE.items():
            users.create(session, name, PASSWORD, roles, admin)
    factory.kw["bind"].dispose()


def _needs_people(request):
    return "people" in request.fixturenames


@pytest.fixture(scope="session")
def migrated_pg(postgres):
    """Two PostgreSQL databases migrated once per run, bare and with the people of PEOPLE, copied for
    each test that needs one."""
    bare, staffed = postgres.new_database(), postgres.new_database()
    for url in (bare, staffed):
        database.upgrade(url)
    _staff(staffed)
    return {False: bare.rsplit("/", 1)[1], True: staffed.rsplit("/", 1)[1]}


@pytest.fixture
def pg_url(request, postgres, migrated_pg):
    """A fresh, migrated PostgreSQL database (for tests that need PostgreSQL itself), dropped after the
    test: some 8 MB each, which need not stay in memory or on disk for a test that is over."""
    url = postgres.new_database(template=migrated_pg[_needs_people(request)])
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """Two SQLite files migrated once per run, bare and with the people of PEOPLE, copied for each test
    that needs a database. Every connection is closed first, so each file holds everything (no
    write-ahead log beside it)."""
    folder = tmp_path_factory.mktemp("migrated")
    copies = {False: folder / "bare.sqlite3", True: folder / "staffed.sqlite3"}
    for path in copies.values():
        database.upgrade(f"sqlite:///{path}")
    _staff(f"sqlite:///{copies[True]}")
    assert not list(folder.glob("*-wal")), "the migrated copies must be self-contained"
    return copies


@pytest.fixture
def db_url(request, tmp_path, database_kind):
    """A fresh, migrated database of the kind the test runs on (`databases_for`). A test that asks for
    `people` gets a copy that already has them (hashing seven passwords per test was a third of the
    suite's time)."""
    if database_kind == "postgresql":
        return request.getfixturevalue("pg_url")
    path = tmp_path / "baton.sqlite3"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite")[_needs_people(request)], path)
    return f"sqlite:///{path}"


@pytest.fixture
def session(db_url):
    s = database.connect(db_url)()
    yield s
    s.close()


def make_app(url):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options(url),
                       "TESTING": True, "SECRET_KEY": "test-secret"})


@pytest.fixture
def app(db_url):
    return make_app(db_url)


@pytest.fixture
def people(session):
    """The people of PEOPLE (the test's database was copied with them in it); returns username → Actor.
    The read's transaction is ended, as creating them ended it: a test that changes the schema (a
    migration) must not wait behind its own session's locks."""
    actors = {name: users.actor(users.find(session, name)) for name in PEOPLE}
    session.commit()
    return actors


class Api:
    """A JSON API client acting as one user with HTTP Basic auth."""

    def __init__(self, client, username, password=PASSWORD):
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.client, self.headers = client, {"Authorization": f"Basic {token}"}

    def get(self, path, **kw):
        return contract.check(self.client.get(f"/api/v1{path}", headers=self.headers, **kw))

    def post(self, path, json=None, **kw):
        return contract.check(self.client.post(f"/api/v1{path}", json=json, headers=self.headers, **kw))

    def deploy(self, *names, as_model=False):
        """Upload test diagrams by name, or (filename, bytes) pairs."""
        files = [(BytesIO(diagram(n) if isinstance(n, str) else n[1]), n if isinstance(n, str) else n[0])
                 for n in names]
        return contract.check(self.client.post("/api/v1/definitions" + ("?as=model" if as_model else ""),
                                               data={"file": files}, headers=self.headers,
                                               content_type="multipart/form-data"))


@pytest.fixture
def api(app, people):
    """api["walt"] is an API client acting as walt."""
    client = app.test_client()
    return {name: Api(client, name) for name in people}


OPERATOR = Actor("test-operator", admin=True)


@pytest.fixture(scope="session")
def browser():
    """The system Chromium, launched once (fails with an install hint when it is missing)."""
    from live import launch
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def live(app):
    from live import LiveServer
    with LiveServer(app) as server:
        yield server
