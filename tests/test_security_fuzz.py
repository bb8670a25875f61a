"""Property-based fuzzing of import and start: valid diagrams (campaign_review and the MIWG reference
files) are mutated — byte flips, truncation, element deletion, duplication and moves, attribute
and text changes, id swaps — and every mutant must either deploy or be refused with
`engine.errors.Invalid` carrying at least one message. No other exception, ever. Mutants that
deploy and have an executable process are started, and their first tasks completed: that may
raise `BatonError` subclasses (a refused start form, a conflict), never anything else.

Hypothesis runs derandomized (the same cases every run) and does not shrink, so the suite stays
fast and deterministic. Each property collects its unexpected exceptions by kind (one example mutant
each) and reports them together at its end, so one bug does not hide the others.
"""
import copy
import os
import re
import signal
from contextlib import contextmanager

import pytest
from conftest import MIWG, OPERATOR, diagram
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine import definitions, forms, instances, tasks
from engine.errors import BatonError, Invalid
from engine.models import HumanTask
from modeller import reader

# on PostgreSQL, which refuses a value longer than its column or of the wrong type where SQLite keeps it,
# so a mutant that slips a value past Baton's own checks fails here
pytestmark = [pytest.mark.strictest_database, pytest.mark.long]
SOURCES = [("campaign_review.bpmn", diagram("campaign_review.bpmn"))] + [(p.name, p.read_bytes()) for p in MIWG]
EXECUTABLE = [i for i, (name, _) in enumerate(SOURCES) if name in ("campaign_review.bpmn", "C.1.0.bpmn", "C.9.1.bpmn")]
START_SECONDS = 10
VALUES = ["", " ", "x", "0", "-1", "true", "false", "None", "${amount > 1}", "#{approved}", "${", "}",
          "__import__('os').system('id')", "1/0", "'a' * 10**10", "while True: pass", "PT1H", "P", "R/P1D",
          "R5/2026-01-01T00:00:00Z/PT1M", "2026-13-45", "Start", "End", "campaign_review.EndJoin", "é😀",
          "\t\n", "<>&\"'", "a" * 5000, "{http://x}y", "camunda:formData", "9" * 400, "1e308", "nan"]


def _settings(examples):
    """`BATON_FUZZ_SCALE=10` runs ten times as many cases (and BATON_FUZZ_SEED another set of them)."""
    return settings(max_examples=int(examples * float(os.environ.get("BATON_FUZZ_SCALE", 1))), deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], derandomize=not os.environ.get("BATON_FUZZ_SEED"),
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def _tree(index):
    return etree.fromstring(SOURCES[index][1], reader._parser())


def _elements(root):
    return [e for e in root.iter(etree.Element) if e is not root]


def _bytes(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@contextmanager
def _time_limit(seconds, what):
    def overrun(signum, frame):
        raise TimeoutError(f"{what} did not return within {seconds} s")
    previous = signal.signal(signal.SIGALRM, overrun)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _form_data(fields):
    values = {}
    for field in fields or []:
        kind = field.get("type")
        if kind == "enum" and field.get("values"):
            values[field["id"]] = field["values"][0]["id"]
        elif kind in forms._CONVERTERS:
            values[field["id"]] = {"string": "fuzz value", "long": 1, "boolean": True, "date": "2026-01-01"}[kind]
    return values


class Fuzz:
    """One property's run: its counts, and its unexpected exceptions by kind (one example mutant each), so
    one bug does not hide the others and each property reports on itself."""

    def __init__(self, session):
        self.session = session
        self.runs = {"cases": 0, "deployed": 0, "refused": 0, "started": 0, "start_refused": 0, "completed_tasks": 0}
        self.bugs = {}   # (phase, exception kind, message shape) → (count, example mutant, message)

    def check(self, name, content, how):
        """The property: deploy succeeds or is refused with messages; a start raises BatonError at worst."""
        session = self.session
        self.runs["cases"] += 1
        try:
            definition, _ = definitions.deploy(session, [(name, content)], OPERATOR)
        except Invalid as refused:
            session.rollback()
            self.runs["refused"] += 1
            assert refused.errors and all(isinstance(e.get("message"), str) and e["message"].strip()
                                          for e in refused.errors), (how, refused.errors)
            return
        except Exception as error:
            session.rollback()
            self._bug("deploy", error, how)
            return
        self.runs["deployed"] += 1
        for version in definition.processes:
            if version.executable:
                self._start(version, definition, how)

    def _start(self, version, definition, how):
        session = self.session
        try:
            with _time_limit(START_SECONDS, f"starting mutant {how}"):
                step = instances.start_step(definitions.bundle_for(definition), version.key)
                instance = instances.start(session, version.key, _form_data(step and step["form"]), OPERATOR)
                self.runs["started"] += 1
                for row in session.query(HumanTask).filter_by(instance_id=instance.id, state="open").limit(3).all():
                    tasks.complete(session, row.id, OPERATOR, _form_data(row.form))
                    self.runs["completed_tasks"] += 1
        except BatonError:
            session.rollback()
            self.runs["start_refused"] += 1
        except Exception as error:
            session.rollback()
            self._bug(f"start {version.key}", error, how)

    def _bug(self, phase, error, how):
        shape = re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'…'", str(error)))[:90]
        key = (phase, error.__class__.__name__, shape)
        count, example, message = self.bugs.get(key, (0, how, str(error)[:300]))
        self.bugs[key] = (count + 1, example, message)

    def assert_clean(self):
        """Every generated case ran, and none raised anything but a refusal."""
        print(f"\nfuzz cases: {self.runs}")
        assert self.runs["cases"] > 0 and self.runs["cases"] == self.runs["deployed"] + self.runs["refused"], self.runs
        report = [f"{phase}: {kind} x{count}: {message}\n      e.g. mutant {example}"
                  for (phase, kind, _), (count, example, message) in sorted(self.bugs.items())]
        assert not self.bugs, f"{len(self.bugs)} kinds of unexpected exceptions:\n  " + "\n  ".join(report)


def test_sources_are_the_shipped_diagram_and_the_miwg_files():
    assert len(SOURCES) == 22, "tests/conformance/miwg must hold the 21 MIWG reference diagrams"


source = st.integers(0, len(SOURCES) - 1)
executable_first = st.one_of(st.sampled_from(EXECUTABLE), source)


def test_byte_flips(session):
    fuzz = Fuzz(session)

    @_settings(500)
    @given(index=executable_first, flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                                                  min_size=1, max_size=4))
    def mutant(index, flips):
        name, content = SOURCES[index]
        data = bytearray(content)
        for where, mask in flips:
            data[int(where * len(data))] ^= mask
        fuzz.check(name, bytes(data), f"{name} bytes xor {flips}")

    mutant()
    fuzz.assert_clean()


def test_truncation(session):
    fuzz = Fuzz(session)

    @_settings(300)
    @given(index=source, cut=st.floats(0, 1, exclude_max=True))
    def mutant(index, cut):
        name, content = SOURCES[index]
        fuzz.check(name, content[:int(cut * len(content))], f"{name} truncated at {cut:.4f}")

    mutant()
    fuzz.assert_clean()


def test_element_deletion(session):
    fuzz = Fuzz(session)

    @_settings(500)
    @given(index=executable_first, picks=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=3))
    def mutant(index, picks):
        name = SOURCES[index][0]
        root = _tree(index)
        removed = []
        for pick in picks:
            elements = _elements(root)
            if not elements:
                break
            victim = elements[int(pick * len(elements))]
            removed.append(f"{etree.QName(victim).localname}#{victim.get('id')}")
            victim.getparent().remove(victim)
        fuzz.check(name, _bytes(root), f"{name} without {removed}")

    mutant()
    fuzz.assert_clean()


def test_element_duplication(session):
    fuzz = Fuzz(session)

    @_settings(400)
    @given(index=executable_first, pick=st.floats(0, 1, exclude_max=True), keep_id=st.booleans())
    def mutant(index, pick, keep_id):
        name = SOURCES[index][0]
        root = _tree(index)
        elements = _elements(root)
        original = elements[int(pick * len(elements))]
        twin = copy.deepcopy(original)
        if not keep_id and twin.get("id"):
            twin.set("id", twin.get("id") + "_twin")
        original.addnext(twin)
        fuzz.check(name, _bytes(root),
                     f"{name} with {etree.QName(original).localname}#{original.get('id')} duplicated (same id: {keep_id})")

    mutant()
    fuzz.assert_clean()


def test_element_moves(session):
    fuzz = Fuzz(session)

    @_settings(300)
    @given(index=executable_first, pick=st.floats(0, 1, exclude_max=True), target=st.floats(0, 1, exclude_max=True))
    def mutant(index, pick, target):
        name = SOURCES[index][0]
        root = _tree(index)
        elements = _elements(root)
        moving = elements[int(pick * len(elements))]
        inside = set(moving.iter())
        parents = [e for e in [root] + elements if e not in inside]
        parent = parents[int(target * len(parents))]
        parent.append(moving)
        fuzz.check(name, _bytes(root),
                     f"{name} with {etree.QName(moving).localname}#{moving.get('id')} moved into {parent.get('id')}")

    mutant()
    fuzz.assert_clean()


def test_attribute_changes(session):
    fuzz = Fuzz(session)

    @_settings(600)
    @given(index=executable_first, pick=st.floats(0, 1, exclude_max=True), attribute=st.floats(0, 1, exclude_max=True),
           value=st.one_of(st.sampled_from(VALUES), st.text(max_size=20), st.just("<other id>")))
    def mutant(index, pick, attribute, value):
        name = SOURCES[index][0]
        root = _tree(index)
        elements = [e for e in _elements(root) if e.attrib]
        element = elements[int(pick * len(elements))]
        key = sorted(element.attrib)[int(attribute * len(element.attrib))]
        if value == "<other id>":
            ids = [e.get("id") for e in elements if e.get("id")]
            value = ids[int(pick * 7919) % len(ids)]
        value = "".join(c for c in value if c in "\t\n\r" or (ord(c) >= 32 and not 0xD800 <= ord(c) <= 0xDFFF
                                                              and ord(c) not in (0xFFFE, 0xFFFF)))
        element.set(key, value)
        fuzz.check(name, _bytes(root), f"{name} {etree.QName(element).localname}#{element.get('id')} "
                                                  f"@{key}={value[:40]!r}")

    mutant()
    fuzz.assert_clean()


def test_id_swaps(session):
    fuzz = Fuzz(session)

    @_settings(400)
    @given(index=executable_first, first=st.floats(0, 1, exclude_max=True), second=st.floats(0, 1, exclude_max=True))
    def mutant(index, first, second):
        name = SOURCES[index][0]
        root = _tree(index)
        with_ids = [e for e in _elements(root) if e.get("id")]
        a, b = with_ids[int(first * len(with_ids))], with_ids[int(second * len(with_ids))]
        ida, idb = a.get("id"), b.get("id")
        a.set("id", idb)
        b.set("id", ida)
        fuzz.check(name, _bytes(root), f"{name} ids {ida!r} and {idb!r} swapped")

    mutant()
    fuzz.assert_clean()


def test_text_changes(session):
    """Text carries references (incoming, outgoing, flowNodeRef) and code (conditions, scripts, timers)."""
    fuzz = Fuzz(session)

    @_settings(400)
    @given(index=st.sampled_from(EXECUTABLE), pick=st.floats(0, 1, exclude_max=True),
           value=st.one_of(st.sampled_from(VALUES), st.text(max_size=30)))
    def mutant(index, pick, value):
        name = SOURCES[index][0]
        root = _tree(index)
        elements = [e for e in _elements(root) if (e.text or "").strip()]
        element = elements[int(pick * len(elements))]
        value = "".join(c for c in value if c in "\t\n\r" or (ord(c) >= 32 and not 0xD800 <= ord(c) <= 0xDFFF
                                                              and ord(c) not in (0xFFFE, 0xFFFF)))
        element.text = value
        fuzz.check(name, _bytes(root), f"{name} {etree.QName(element).localname} text={value[:40]!r}")

    mutant()
    fuzz.assert_clean()
