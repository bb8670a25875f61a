"""Turning read documents into SpiffWorkflow process specs, with every failure as a Problem.

The parser is chosen by the extensions the files use: SpiffArena's `spiffworkflow:` dialect
needs `SpiffBpmnParser`, everything else (plain BPMN, Camunda 7) goes through `CamundaParser`.
Both can raise bare `KeyError`/`AttributeError` on odd input; every failure is caught here and
named by element id and line.
"""
import copy
from dataclasses import dataclass, field
from functools import lru_cache

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from . import call_mappings, decisions, elements, event_starts, foreign_forms, links, normalise, unrunnable
from .camunda_parser import BatonCamundaParser
from .reader import BPMN_NS, Problem, is_executable
from .reader import read as reader_read

DIALECTS = {"camunda": BatonCamundaParser, "spiff": SpiffBpmnParser}


@dataclass
class Bundle:
    """Documents deployed together (a diagram, the DMN tables and called diagrams it needs)."""
    documents: list
    dialect: str = "camunda"
    specs: dict = field(default_factory=dict)          # process key → (spec, subprocess specs)
    steps: dict = field(default_factory=dict)          # element id → human or automated step (elements.py)
    code: list = field(default_factory=list)           # (element id, kind, source, mode)
    problems: list = field(default_factory=list)       # why a model cannot run (models only)
    lent: list = field(default_factory=list)           # called diagrams taken from earlier deploys
    warnings: list = field(default_factory=list)       # accepted, but the designer should know
    initiators: dict = field(default_factory=dict)     # process key → variable for who started it

    @property
    def diagrams(self):
        return [d for d in self.documents if d.kind == "bpmn"]

    @property
    def processes(self):
        return [p for d in self.diagrams for p in d.processes]


@lru_cache(maxsize=1)
def _validator():
    return BpmnValidator()


def dialect_of(documents):
    return "spiff" if any(d.kind == "bpmn" and d.uses_spiff_extensions for d in documents) else "camunda"


# attributes the BPMN schema does not allow but authoring tools write (SpiffArena's editor both), and
# that change nothing the engine does: a warning, not a refusal
TOLERATED_ATTRIBUTES = (("escalation", "errorCode"), ("startEvent", "messageRef"))


def _tolerated(root):
    """(element, attribute) pairs under `root` in TOLERATED_ATTRIBUTES."""
    return [(element, attribute) for tag, attribute in TOLERATED_ATTRIBUTES
            for element in root.iter(f"{{{BPMN_NS}}}{tag}") if element.get(attribute) is not None]


def schema_warnings(document):
    return [Problem(f"the BPMN schema has no {attribute} on {element.tag.split('}')[1]}; Baton ignores it",
                    element.get("id"), element.sourceline, document.filename)
            for element, attribute in _tolerated(document.root)]


def schema_problems(document):
    """BPMN XSD violations (unknown or misplaced elements) of one diagram, but for `schema_warnings`."""
    root = document.root
    if _tolerated(root):
        root = copy.deepcopy(root)
        for element, attribute in _tolerated(root):
            del element.attrib[attribute]
    try:
        _validator().validate(root, document.filename)
    except ValidationException as error:
        line = error.line_number if isinstance(error.line_number, int) else None
        return [Problem(f"not valid BPMN: {error}", None, line, document.filename)]
    return []


def called_elsewhere(documents):
    """The process keys the call activities of `documents` name that none of them defines."""
    defined = {p.key for d in documents if d.kind == "bpmn" for p in d.processes}
    return {name for d in documents if d.kind == "bpmn" for process in _executable(d)
            for _, kind, name in elements.references(process) if kind == "process" and name} - defined


def read(filename, content):
    """Any uploaded file: a diagram or a decision table (`reader.read`), or another tool's form file."""
    return (foreign_forms.read if foreign_forms.is_form_file(filename) else reader_read)(filename, content)


def build(documents, lent=()):
    """Build specs for the executable processes; return (Bundle, problems that stop them running).

    `lent` are documents deployed before that define processes the call activities name: they are
    parsed with `documents` but are not versioned again. Call `schema_problems` first: a document
    that is not valid BPMN is not a model either."""
    bundle = Bundle(documents, dialect_of([*documents, *lent]), lent=list(lent))
    problems = []
    forms = foreign_forms.index([*documents, *lent])
    for document in [*bundle.diagrams, *(d for d in bundle.lent if d.kind == "bpmn")]:
        bundle.steps.update(elements.human_steps(document.root, forms))
        bundle.warnings += elements.foreign_form_warnings(document.root, forms)
        bundle.initiators.update(elements.initiators(document.root))
        bundle.steps.update(elements.automated_steps(document.root))
        for process in _executable(document):   # code in a model that never runs is not checked
            bundle.code.extend(elements.code(process))
            bundle.code.extend(call_mappings.code(call_mappings.read(process)))
    for document in documents:
        if document.kind == "dmn":
            bundle.code.extend((owner, kind, text, "eval")
                               for owner, kind, text in elements.decision_code(document.root))
    problems += _form_problems(bundle) + _reserved_id_problems(bundle) + _reference_problems(bundle)
    for document in bundle.diagrams:
        executable_ids = _executable(document)
        problems += unrunnable.problems(document, executable_ids) + links.problems(document, executable_ids)
    executable = [p.key for p in bundle.processes if p.executable]
    if problems or not executable:
        return bundle, problems
    parser = DIALECTS[bundle.dialect]()
    try:
        for document in [*documents, *bundle.lent]:
            if document.kind == "dmn":
                for decision in decisions.split(document.root):
                    parser.add_dmn_xml(decision, document.filename)
            elif document.kind == "bpmn":
                parser.add_bpmn_xml(normalise.for_execution(document.root), document.filename)
        for key in executable:
            called = parser.get_subprocess_specs(key, require_call_activity_specs=False)
            bundle.specs[key] = (parser.get_spec(key), {k: v for k, v in called.items() if v is not None})
        call_mappings.attach(bundle.specs, {k: v for d in [*bundle.diagrams, *bundle.lent] if d.kind == "bpmn"
                                            for k, v in call_mappings.read(d.root).items()})
        decisions.attach(parser, bundle.specs, [*documents, *bundle.lent])
        event_starts.attach(bundle.specs, [*documents, *bundle.lent])
    except Exception as error:  # noqa: BLE001 - the parsers raise more than ValidationException on odd input
        problems.append(_as_problem(error, documents))
    return bundle, problems


def _executable(document):
    return [p for p in document.root.iter(f"{{{BPMN_NS}}}process") if is_executable(p, document.root)]


RESERVED_IDS = {"Start", "End"}


def _reserved_id_problems(bundle):
    """SpiffWorkflow names internal tasks `Start`, `End` and `<process>.EndJoin`; an element with such an
    id silently replaces them and the process loses its body."""
    found = []
    for document in bundle.diagrams:
        for process in document.root.iter(f"{{{BPMN_NS}}}process"):
            reserved = RESERVED_IDS | {f"{process.get('id')}.EndJoin"}
            for element in process.iter():
                if element.get("id") in reserved:
                    found.append(Problem(f"element id {element.get('id')!r} is reserved by the engine; rename it",
                                         element.get("id"), element.sourceline, document.filename))
    return found


def _form_problems(bundle):
    found = []
    for element_id, step in bundle.steps.items():
        messages = [elements.form_problem(form_field) for form_field in step.get("form", [])]
        messages += elements.condition_problems(step.get("form", []))
        messages.append(elements.reminders_problem(step.get("reminders")))
        found += [Problem(message, element_id, *locate(element_id, bundle.documents))
                  for message in messages if message]
    return found


_WHAT_IS_CALLED = {
    "process": ("call activity names no process to call (calledElement)",
                "calls process {!r}, which is neither in this upload nor deployed: the call will fail until "
                "it is deployed"),
    "decision": ("business rule task names no decision table (camunda:decisionRef)",
                 "uses decision table {!r}, which is not in this upload: upload its .dmn file together with this one"),
}


def _reference_problems(bundle):
    """Call activities and business rule tasks must name something uploaded with them (the parser
    would fail on them too, but without naming the element). A called process may also have been
    deployed before (`bundle.lent`); one deployed nowhere yet is only a warning, as in Camunda, which
    resolves it when the call happens: the call then fails as an incident."""
    known = {"process": {p.key for d in [*bundle.documents, *bundle.lent] if d.kind == "bpmn" for p in d.processes},
             "decision": {d.get("id") for doc in bundle.documents if doc.kind == "dmn"
                          for d in doc.root.iter("{*}decision")}}
    found = []
    for document in bundle.diagrams:
        for process in _executable(document):
            for element, kind, name in elements.references(process):
                unnamed, unknown = _WHAT_IS_CALLED[kind]
                if kind == "process" and name is not None and name not in known[kind]:
                    bundle.warnings.append(Problem(unknown.format(name), element.get("id"), element.sourceline,
                                                   document.filename))
                elif name is None or name not in known[kind]:
                    found.append(Problem(unnamed if name is None else unknown.format(name), element.get("id"),
                                         element.sourceline, document.filename))
    return found


def _as_problem(error, documents):
    if isinstance(error, ValidationException):
        element_id = error.id or None
        line, filename = locate(element_id, documents)
        return Problem(str(error).strip() or error.__class__.__name__, element_id, line,
                       error.file_name or filename)
    if isinstance(error, KeyError):
        return Problem(f"the engine cannot run this diagram: missing attribute or reference {error}")
    return Problem(f"the engine cannot run this diagram: {error.__class__.__name__}: {error}")


def locate(element_id, documents):
    """(line, filename) of the element with `element_id`, or (None, None)."""
    if element_id:
        for document in documents:
            line = document.lines.get(element_id)
            if line is not None:
                return line, document.filename
    return None, None
