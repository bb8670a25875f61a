"""Property-based fuzzing of import and start: valid diagrams (campaign_review and the MIWG reference
files) are mutated — byte flips, truncation, element deletion, duplication and moves, attribute
and text changes, id swaps — and every mutant must either deploy or be refused with
`engine.errors.Invalid` carrying at least one message. No other exception, ever. Mutants that
deploy and have an executable process are started, and their first tasks completed: that may
raise `BatonError` subclasses (a refused start form, a conflict), never anything else.

Hypothesis runs derandomized (the same cases every run) and does not shrink, so the suite stays
fast and deterministic. Unexpected exceptions are collected by kind (one example mutant each) and
reported together by `test_fuzz_found_no_bugs`, so one bug does not hide the others.
"""
import re
import copy
import os
import signal
from contextlib import contextmanager

from conftest import MIWG, OPERATOR, diagram
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine import definitions, forms, instances, tasks
from engine.errors import BatonError, Invalid
from engine.models import HumanTask
from modeller import reader

SOURCES = [("campaign_review.bpmn", diagram("campaign_review.bpmn"))] + [(p.name, p.read_bytes()) for p in MIWG]
EXECUTABLE = [i for i, (name, _) in enumerate(SOURCES) if name in ("campaign_review.bpmn", "C.1.0.bpmn", "C.9.1.bpmn")]
START_SECONDS = 10
RUNS = {"cases": 0, "deployed": 0, "refused": 0, "started": 0, "start_refused": 0, "completed_tasks": 0}
BUGS = {}   # (phase, exception kind, message shape) → (count, example mutant, message)
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


def check_mutant(session, name, content, how):
    """The property: deploy succeeds or is refused with messages; a start raises BatonError at worst."""
    RUNS["cases"] += 1
    try:
        definition, _ = definitions.deploy(session, [(name, content)], OPERATOR)
    except Invalid as refused:
        session.rollback()
        RUNS["refused"] += 1
        assert refused.errors and all(isinstance(e.get("message"), str) and e["message"].strip()
                                      for e in refused.errors), (how, refused.errors)
        return
    except Exception as error:
        session.rollback()
        _bug("deploy", error, how)
        return
    RUNS["deployed"] += 1
    for version in definition.processes:
        if not version.executable:
            continue
        try:
            with _time_limit(START_SECONDS, f"starting mutant {how}"):
                step = instances.start_step(definitions.bundle_for(definition), version.key)
                instance = instances.start(session, version.key, _form_data(step and step["form"]), OPERATOR)
                RUNS["started"] += 1
                for row in session.query(HumanTask).filter_by(instance_id=instance.id, state="open").limit(3).all():
                    tasks.complete(session, row.id, OPERATOR, _form_data(row.form))
                    RUNS["completed_tasks"] += 1
        except BatonError:
            session.rollback()
            RUNS["start_refused"] += 1
        except Exception as error:
            session.rollback()
            _bug(f"start {version.key}", error, how)


def _bug(phase, error, how):
    shape = re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'…'", str(error)))[:90]
    key = (phase, error.__class__.__name__, shape)
    count, example, message = BUGS.get(key, (0, how, str(error)[:300]))
    BUGS[key] = (count + 1, example, message)


source = st.integers(0, len(SOURCES) - 1)
executable_first = st.one_of(st.sampled_from(EXECUTABLE), source)


@_settings(500)
@given(index=executable_first, flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                                              min_size=1, max_size=4))
def test_byte_flips(session, index, flips):
    name, content = SOURCES[index]
    data = bytearray(content)
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    check_mutant(session, name, bytes(data), f"{name} bytes xor {flips}")


@_settings(300)
@given(index=source, cut=st.floats(0, 1, exclude_max=True))
def test_truncation(session, index, cut):
    name, content = SOURCES[index]
    check_mutant(session, name, content[:int(cut * len(content))], f"{name} truncated at {cut:.4f}")


@_settings(500)
@given(index=executable_first, picks=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=3))
def test_element_deletion(session, index, picks):
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
    check_mutant(session, name, _bytes(root), f"{name} without {removed}")


@_settings(400)
@given(index=executable_first, pick=st.floats(0, 1, exclude_max=True), keep_id=st.booleans())
def test_element_duplication(session, index, pick, keep_id):
    name = SOURCES[index][0]
    root = _tree(index)
    elements = _elements(root)
    original = elements[int(pick * len(elements))]
    twin = copy.deepcopy(original)
    if not keep_id and twin.get("id"):
        twin.set("id", twin.get("id") + "_twin")
    original.addnext(twin)
    check_mutant(session, name, _bytes(root),
                 f"{name} with {etree.QName(original).localname}#{original.get('id')} duplicated (same id: {keep_id})")


@_settings(300)
@given(index=executable_first, pick=st.floats(0, 1, exclude_max=True), target=st.floats(0, 1, exclude_max=True))
def test_element_moves(session, index, pick, target):
    name = SOURCES[index][0]
    root = _tree(index)
    elements = _elements(root)
    moving = elements[int(pick * len(elements))]
    inside = set(moving.iter())
    parents = [e for e in [root] + elements if e not in inside]
    parent = parents[int(target * len(parents))]
    parent.append(moving)
    check_mutant(session, name, _bytes(root),
                 f"{name} with {etree.QName(moving).localname}#{moving.get('id')} moved into {parent.get('id')}")


@_settings(600)
@given(index=executable_first, pick=st.floats(0, 1, exclude_max=True), attribute=st.floats(0, 1, exclude_max=True),
       value=st.one_of(st.sampled_from(VALUES), st.text(max_size=20), st.just("<other id>")))
def test_attribute_changes(session, index, pick, attribute, value):
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
    check_mutant(session, name, _bytes(root), f"{name} {etree.QName(element).localname}#{element.get('id')} "
                                              f"@{key}={value[:40]!r}")


@_settings(400)
@given(index=executable_first, first=st.floats(0, 1, exclude_max=True), second=st.floats(0, 1, exclude_max=True))
def test_id_swaps(session, index, first, second):
    name = SOURCES[index][0]
    root = _tree(index)
    with_ids = [e for e in _elements(root) if e.get("id")]
    a, b = with_ids[int(first * len(with_ids))], with_ids[int(second * len(with_ids))]
    ida, idb = a.get("id"), b.get("id")
    a.set("id", idb)
    b.set("id", ida)
    check_mutant(session, name, _bytes(root), f"{name} ids {ida!r} and {idb!r} swapped")


@_settings(400)
@given(index=st.sampled_from(EXECUTABLE), pick=st.floats(0, 1, exclude_max=True),
       value=st.one_of(st.sampled_from(VALUES), st.text(max_size=30)))
def test_text_changes(session, index, pick, value):
    """Text carries references (incoming, outgoing, flowNodeRef) and code (conditions, scripts, timers)."""
    name = SOURCES[index][0]
    root = _tree(index)
    elements = [e for e in _elements(root) if (e.text or "").strip()]
    element = elements[int(pick * len(elements))]
    value = "".join(c for c in value if c in "\t\n\r" or (ord(c) >= 32 and not 0xD800 <= ord(c) <= 0xDFFF
                                                          and ord(c) not in (0xFFFE, 0xFFFF)))
    element.text = value
    check_mutant(session, name, _bytes(root), f"{name} {etree.QName(element).localname} text={value[:40]!r}")


def test_fuzz_found_no_bugs():
    """Runs after the properties above (file order): thousands of mutants, and no unexpected exception."""
    print(f"\nfuzz cases: {RUNS}")
    assert RUNS["cases"] >= 2000, f"run the whole file: this test reports on the fuzz properties above ({RUNS})"
    assert len(SOURCES) == 22, "tests/conformance/miwg must hold the 21 MIWG reference diagrams"
    assert RUNS["deployed"] and RUNS["refused"] and RUNS["started"], RUNS
    report = [f"{phase}: {kind} x{count}: {message}\n      e.g. mutant {example}"
              for (phase, kind, _), (count, example, message) in sorted(BUGS.items())]
    assert not BUGS, f"{len(BUGS)} kinds of unexpected exceptions:\n  " + "\n  ".join(report)
