"""Hostile and broken uploads: every file in tests/hostile/ (XXE, entity bombs, external DTDs,
DOCTYPEs hidden in UTF-16/32/7, XInclude, processing instructions, invalid encodings, non-BPMN
XML, dangling references, duplicate ids, code that must not compile, diagrams that crash the
SpiffWorkflow parser) plus generated ones (oversize, deeply nested) is refused with a clear
message — HTTP 422, or 413 when the request itself is larger than the server accepts — through
the API, the modeller upload page and the editor's save, and nothing is stored.

The XML parser is also checked on its own, behind the byte-level DOCTYPE test: with entities,
DTDs and the network switched off it neither opens a file (a FIFO canary notices an open) nor
connects anywhere (a listening socket notices a connection) nor expands an entity.
"""
import os
import re
import socket
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from conftest import MIWG, PASSWORD, Api, diagram, make_app
from lxml import etree
from sqlalchemy import func, select

from engine import database, definitions, users
from engine.errors import Invalid
from engine.models import Definition, DefinitionFile, Instance, ProcessVersion
from modeller import reader

HOSTILE = Path(__file__).parent / "hostile"
# file → (element id the refusal must name, or None; a word the message must contain)
EXPECTED = {
    "bad_form_field.bpmn": ("Task_1", "unsupported type"),
    "billion_laughs.bpmn": (None, "DOCTYPE"),
    "business_rule_without_decision_ref.bpmn": ("Rule_1", "decisionRef"),
    "business_rule_without_dmn.bpmn": ("Rule_1", "DMN"),
    "condition_import.bpmn": ("Flow_3", "does not compile"),
    "dangling_boundary.bpmn": ("Boundary_1", "Task_nowhere"),
    "dangling_reference.bpmn": ("Flow_2", "Task_missing"),
    "doctype_lowercase.bpmn": (None, "DOCTYPE"),
    "due_date_dunder.bpmn": ("Task_1", "does not compile"),
    "duplicate_ids.bpmn": ("Task_1", "duplicate id"),
    "empty.bpmn": (None, "empty"),
    "entity_without_doctype.bpmn": (None, "not well-formed"),
    "external_dtd.bpmn": (None, "DOCTYPE"),
    "external_dtd_public.bpmn": (None, "DOCTYPE"),
    "invalid_utf8.bpmn": (None, "not well-formed"),
    "no_namespace.bpmn": (None, "not a BPMN"),
    "not_bpmn.xml": (None, "not a BPMN"),
    "nul_char_reference.bpmn": (None, "not well-formed"),
    "only_dmn.dmn": (None, "no BPMN diagram"),
    "processing_instruction.bpmn": (None, "processing instructions"),
    "processing_instruction_inside.bpmn": ("Task_1", "processing instructions"),
    "quadratic_blowup.bpmn": (None, "DOCTYPE"),
    "reserved_id.bpmn": ("End", "reserved"),
    "script_import.bpmn": ("Script_1", "is not allowed in diagram code; it may import datetime"),
    "timer_does_not_compile.bpmn": ("Boundary_1", "does not compile"),
    "truncated.bpmn": (None, "not well-formed"),
    "unconditional_gateway_flow.bpmn": ("Flow_2", "without condition"),
    "unknown_bpmn_element.bpmn": (None, "not valid BPMN"),
    "utf16_doctype.bpmn": (None, "DOCTYPE"),
    "utf16be_doctype_nobom.bpmn": (None, "DOCTYPE"),
    "utf32_doctype.bpmn": (None, "DOCTYPE"),
    "utf7_doctype.bpmn": (None, "DOCTYPE"),
    "whitespace_only.bpmn": (None, "empty"),
    "xinclude.bpmn": ("Task_1", "XInclude"),
    "xinclude_extension.bpmn": ("Task_1", "XInclude"),
    "xxe_external_entity.bpmn": (None, "DOCTYPE"),
    "xxe_network_entity.bpmn": (None, "DOCTYPE"),
    "xxe_parameter_entity.bpmn": (None, "DOCTYPE"),
}


def _nested(depth):
    inner = "<bpmn:extensionElements>" * depth + "</bpmn:extensionElements>" * depth
    return diagram("campaign_review.bpmn").replace(b'<bpmn:userTask id="Task_copy" name="Write the copy">',
                                                   b'<bpmn:userTask id="Task_copy" name="Write the copy">'
                                                   + inner.encode(), 1)


def _oversize(limit):
    """A well-formed diagram of exactly limit + 1 bytes."""
    head, tail = diagram("campaign_review.bpmn").split(b"</bpmn:definitions>")
    tail = b"</bpmn:definitions>" + tail
    content = head + b"<!--" + b"x" * (limit + 1 - len(head) - len(tail) - 7) + b"-->" + tail
    assert len(content) == limit + 1
    return content


GENERATED = {   # name → (bytes factory, element id, message word)
    "deep_nesting_300.bpmn": (lambda: _nested(300), None, "depth"),
    "deep_nesting_100000.bpmn": (lambda: _nested(100_000), None, "depth"),
    "oversize_by_one_byte.bpmn": (lambda: _oversize(reader.max_upload_bytes()), None, "limit"),
    "wide_attributes.bpmn": (lambda: diagram("campaign_review.bpmn").replace(
        b'<bpmn:userTask id="Task_copy"', b'<bpmn:userTask ' + b" ".join(b'a%d="x"' % i for i in range(50_000))
        + b' a1="twice" id="Task_copy"', 1), None, "not well-formed"),
}


def test_the_hostile_collection_is_complete():
    files = sorted(p.name for p in HOSTILE.iterdir() if not p.name.startswith(".") and p.suffix != ".md")
    assert files == sorted(EXPECTED), "every file in tests/hostile needs an expectation, and every expectation a file"
    assert len(files) + len(GENERATED) >= 20


def _stored(session):
    return [session.scalar(select(func.count()).select_from(model))
            for model in (Definition, DefinitionFile, ProcessVersion, Instance)]


def _assert_refusal(errors, element_id, word, name):
    assert errors and all(isinstance(e.get("message"), str) and e["message"].strip() for e in errors), (name, errors)
    text = " ".join(e["message"] for e in errors)
    assert word.lower() in text.lower(), (name, errors)
    if element_id is not None:
        assert any(e.get("element_id") == element_id for e in errors), (name, f"expected {element_id}", errors)
        assert any(e.get("element_id") == element_id and isinstance(e.get("line"), int) and e["line"] > 0
                   for e in errors), (name, "the refusal names the line too", errors)


def _cases():
    for name in sorted(EXPECTED):
        yield pytest.param(name, lambda name=name: (HOSTILE / name).read_bytes(), *EXPECTED[name], id=name)
    for name, (make, element_id, word) in GENERATED.items():
        yield pytest.param(name, make, element_id, word, id=name)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app and database for the whole collection: every upload is refused, so it stays empty."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'baton.sqlite3'}"
    database.upgrade(url)
    session = database.connect(url)()
    users.create(session, "ed", PASSWORD, ["modeller"])
    client = make_app(url).test_client()
    yield {"ed": Api(client, "ed")}, session
    session.close()


@pytest.mark.parametrize("name, make, element_id, word", list(_cases()))
def test_hostile_file_is_refused_everywhere_and_nothing_is_stored(shared, name, make, element_id, word):
    api, session = shared
    content = make()
    # the engine
    with pytest.raises(Invalid) as refused:
        definitions.check([(name, content)])
    _assert_refusal(refused.value.errors, element_id, word, name)
    # the API
    reply = api["ed"].deploy((name, content))
    assert reply.status_code == 422, (name, reply.status_code, reply.get_data(as_text=True)[:300])
    _assert_refusal(reply.get_json()["errors"], element_id, word, name)
    # next to a good file, it still spoils the whole upload (a lone decision table is fine next to a diagram)
    if not name.endswith(".dmn"):
        together = api["ed"].deploy("campaign_review.bpmn", (name, content))
        assert together.status_code == 422, (name, together.status_code)
    # the editor's save (JSON) and the upload page (HTML)
    browser = _signed_in(api["ed"].client, "ed")
    saved = browser.post("/modeller/save?name=hostile", data=content, content_type="application/xml",
                         headers={"X-CSRFToken": _token(browser)})
    assert saved.status_code == 422, (name, saved.status_code)
    _assert_refusal(saved.get_json()["errors"], element_id, word, name)
    page = browser.post("/modeller/upload", data={"file": (BytesIO(content), name), "csrf_token": _token(browser)},
                        content_type="multipart/form-data")
    assert page.status_code == 422 and page.get_data(as_text=True)[:200].lower().startswith("<!doctype html>"), \
        (name, page.status_code)
    assert word.lower() in page.get_data(as_text=True).lower(), (name, "the page shows why")
    # nothing stored, anywhere
    assert api["ed"].get("/definitions").get_json() == []
    session.expire_all()
    assert _stored(session) == [0, 0, 0, 0]


def _signed_in(client, username):
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": _token(client)})
    return client


def _token(client):
    for page in ("/login", "/modeller/new"):
        found = re.search(r'(?:name="csrf_token" value|data-csrf-token)="([^"]+)"', client.get(page).get_data(as_text=True))
        if found:
            return found.group(1)
    raise AssertionError("no CSRF token")


def test_a_request_larger_than_the_server_accepts_is_413_and_stores_nothing(api, app, session):
    limit = app.config["MAX_CONTENT_LENGTH"]
    reply = api["ed"].deploy(("huge.bpmn", b" " * (limit + 1)))
    assert reply.status_code == 413 and reply.get_json()["errors"][0]["message"]
    assert api["ed"].get("/definitions").get_json() == [] and _stored(session) == [0, 0, 0, 0]


def test_the_upload_limit_is_configurable(monkeypatch):
    monkeypatch.setenv("BATON_MAX_UPLOAD_BYTES", "20000")
    assert reader.max_upload_bytes() == 20000
    with pytest.raises(reader.DocumentRejected, match="limit is 20000 bytes"):
        reader.read("big.bpmn", diagram("campaign_review.bpmn") + b" " * 20000)
    monkeypatch.delenv("BATON_MAX_UPLOAD_BYTES")
    assert reader.max_upload_bytes() == 5 * 1024 * 1024


def test_reference_files_still_import(api):
    """The strict reader keeps accepting what real tools write (ids in extensions may repeat)."""
    assert len(MIWG) == 21, "tests/conformance/miwg must hold the 21 MIWG reference diagrams"
    for path in MIWG:
        assert reader.read(path.name, path.read_bytes()).kind == "bpmn", path.name
    twice = diagram("campaign_review.bpmn").replace(b'<camunda:formField id="copy"', b'<camunda:formField id="brief"')
    assert api["ed"].deploy(("same_field.bpmn", twice)).status_code == 201, "two tasks may share a form field id"


# ---------------------------------------------------------------------------------------------
# The XML parser alone, behind the byte-level check: nothing is opened, fetched or expanded.

class OpenCanary:
    """A FIFO that notices whether anything opened it for reading (without ever blocking the reader)."""

    def __init__(self, path):
        self.path, self.opened, self._stop = str(path), False, threading.Event()
        os.mkfifo(self.path)
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:       # ENXIO: nobody has it open for reading
                time.sleep(0.002)
                continue
            self.opened = True
            os.close(fd)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=5)


class ConnectCanary:
    """A listening socket that notices any connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/evil.dtd"

    def connected(self):
        try:
            connection, _ = self.sock.accept()
            connection.close()
            return True
        except OSError:
            return False


@pytest.fixture
def canaries(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("XXE-SECRET-31337")
    return secret, tmp_path / "canary.fifo", ConnectCanary()


XXE_BODIES = {
    "file entity": '<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]><d>&x;</d>',
    "fifo entity": '<!DOCTYPE d [<!ENTITY x SYSTEM "file://{fifo}">]><d>&x;</d>',
    "network entity": '<!DOCTYPE d [<!ENTITY x SYSTEM "{url}">]><d>&x;</d>',
    "parameter entity": '<!DOCTYPE d [<!ENTITY % p SYSTEM "file://{fifo}"> %p;]><d/>',
    "parameter entity over the network": '<!DOCTYPE d [<!ENTITY % p SYSTEM "{url}"> %p;]><d/>',
    "external dtd": '<!DOCTYPE d SYSTEM "file://{fifo}"><d/>',
    "external dtd over the network": '<!DOCTYPE d SYSTEM "{url}"><d/>',
    "entity in attribute": '<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]><d a="&x;"/>',
    "billion laughs": '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                      '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY e "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
                      '<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">'
                      '<!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]><d>&h;&h;&h;&h;&h;&h;&h;&h;</d>',
    "xinclude": '<d xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://{secret}" parse="text"/></d>',
}


@pytest.mark.parametrize("name", sorted(XXE_BODIES))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_parser_never_resolves_anything(canaries, name, encoding):
    secret, fifo, network = canaries
    text = f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n' + \
        XXE_BODIES[name].format(secret=secret, fifo=fifo, url=network.url)
    started = time.monotonic()
    with OpenCanary(fifo) as opened:
        try:
            tree = etree.fromstring(text.encode(encoding), reader._parser())
            rendered = etree.tostring(tree, encoding="unicode")
        except etree.XMLSyntaxError:
            rendered = ""
    assert not opened.opened, "the parser opened a file named by the document"
    assert not network.connected(), "the parser connected to a URL named by the document"
    assert "XXE-SECRET" not in rendered and len(rendered) < 10_000
    assert time.monotonic() - started < 5
    with pytest.raises(reader.DocumentRejected):   # and the reader refuses the document outright
        reader.read("x.bpmn", text.encode(encoding))
