"""How many real files deploy and run to the end in Baton, next to SpiffWorkflow alone (issue 24).

The corpus: the MIWG reference files, the shipped diagrams, and a sample of SpiffWorkflow's own test
files drawn in Camunda Modeler and in SpiffArena (tests/corpus/, with their licence and source). Each
file is deployed on its own and its first executable process run as far as it goes: every person's
task is completed with a value for each of its form fields, nothing else is sent (no message,
signal or passing time). SpiffWorkflow alone is given the same values, with the parser of the file's
dialect and its own (unsandboxed: these files are ours) script engine, and a file that is not
SpiffArena's also with SpiffWorkflow's own plain-BPMN parser (`BpmnDmnParser`, no Camunda extension read).
Baton must complete at least every file SpiffWorkflow alone completes with either parser; the figures
are the README's (section "Files from other tools").
"""
import datetime as dt
from pathlib import Path

import pytest
from conftest import MIWG, OPERATOR
from lxml import etree
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine import definitions, instances, tasks
from engine.errors import BatonError
from engine.models import ProcessVersion

ROOT = Path(__file__).parent.parent
CORPUS = [*MIWG, *sorted((ROOT / "diagrams").glob("*.bpmn")), *sorted((Path(__file__).parent / "corpus").glob("*/*.bpmn"))]
SPIFF_NS = b"http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_ROUNDS = 200
# (deployed, completed) out of len(CORPUS) files; the README quotes these
FIGURES = {"files": 52, "baton": (33, 16), "spiffworkflow": (33, 14), "spiffworkflow plain parser": (22, 4)}


def sample_value(field):
    """A value a person could type into `field` (a Baton form field)."""
    kind = field.get("type")
    if kind == "enum":
        return (field.get("values") or [{"id": ""}])[0]["id"]
    if kind == "long":
        return int(field.get("min") or 1)
    if kind == "boolean":
        return True
    if kind == "date":
        return field.get("min") or dt.date(2027, 1, 4).isoformat()
    return "x" * max(1, int(field.get("minlength") or 1))


def _first_process(content):
    root = etree.fromstring(content)
    return next((p.get("id") for p in root.iter("{*}process") if p.get("isExecutable") != "false"), None)


def in_spiffworkflow_alone(path, plain=False):
    """(deployed, completed) with SpiffWorkflow by itself: with the parser of the file's dialect, or
    (`plain`) with its plain-BPMN parser, which reads no Camunda extension."""
    content = path.read_bytes()
    parser = BpmnDmnParser() if plain else SpiffBpmnParser() if SPIFF_NS in content else CamundaParser()
    try:
        parser.add_bpmn_xml(etree.fromstring(content), str(path))
        key = _first_process(content)
        workflow = BpmnWorkflow(parser.get_spec(key), parser.get_subprocess_specs(key))
    except Exception:
        return False, False
    try:
        for _ in range(MAX_ROUNDS):
            workflow.do_engine_steps()
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            for task in ready:
                fields = getattr(getattr(task.task_spec, "form", None), "fields", [])
                task.data.update({f.id: sample_value({"type": f.type, "values": [{"id": o.id} for o in
                                                                                  getattr(f, "options", [])]})
                                  for f in fields})
                task.run()
        return True, workflow.is_completed()
    except Exception:
        return True, False


def in_baton(session, path):
    """(deployed, completed) through Baton's engine, as the API drives it."""
    try:
        definition, _ = definitions.deploy(session, [(path.name, path.read_bytes())], OPERATOR)
    except BatonError:
        session.rollback()
        return False, False
    version = next((v for v in definition.processes if v.executable), None)
    if version is None:
        return False, False
    try:
        step = instances.start_step_of(session, session.get(ProcessVersion, version.id))
        instance = instances.start(session, version.key, {f["id"]: sample_value(f) for f in (step or {}).get("form", [])
                                                          if not f.get("readonly")}, OPERATOR)
        for _ in range(MAX_ROUNDS):
            shown = instances.describe(session, instances.get(session, instance.id))
            if shown["status"] != "running" or not shown["tasks"]:
                return True, shown["status"] == "completed"
            for task in shown["tasks"]:
                row, _ = tasks.get_with_instance(session, task["id"])
                tasks.complete(session, task["id"], OPERATOR, {f["id"]: sample_value(f) for f in row.form or []
                                                               if not f.get("readonly")})
    except BatonError:
        session.rollback()
    return True, False


@pytest.mark.long
@pytest.mark.same_on_any_database   # what each file does when run, not how its instance is stored
def test_baton_completes_every_file_spiffworkflow_alone_completes(session):
    results = {path.name: (in_spiffworkflow_alone(path), in_baton(session, path),
                           (False, False) if SPIFF_NS in path.read_bytes() else in_spiffworkflow_alone(path, plain=True))
               for path in CORPUS}
    alone = {name for name, (mine, _, plain) in results.items() if mine[1] or plain[1]}
    baton = {name for name, (_, ours, _) in results.items() if ours[1]}
    assert alone <= baton, f"SpiffWorkflow alone completes these, Baton does not: {sorted(alone - baton)}"
    count = {"files": len(CORPUS),
             **{who: tuple(sum(r[column][i] for r in results.values()) for i in (0, 1))
                for column, who in enumerate(("spiffworkflow", "baton", "spiffworkflow plain parser"))}}
    assert count == FIGURES, f"update FIGURES and the README: {count}; per file (alone, Baton, plain): {results}"
