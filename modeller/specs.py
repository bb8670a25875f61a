"""Turning read documents into SpiffWorkflow process specs, with every failure as a Problem.

The parser is chosen by the extensions the files use: SpiffArena's `spiffworkflow:` dialect
needs `SpiffBpmnParser`, everything else (plain BPMN, Camunda 7) goes through `CamundaParser`.
Both can raise bare `KeyError`/`AttributeError` on odd input; every failure is caught here and
named by element id and line.
"""
from dataclasses import dataclass, field
from functools import lru_cache

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from . import elements, normalise
from .reader import BPMN_NS, Problem

DIALECTS = {"camunda": CamundaParser, "spiff": SpiffBpmnParser}


@dataclass
class Bundle:
    """Documents deployed together (a diagram, the DMN tables and called diagrams it needs)."""
    documents: list
    dialect: str = "camunda"
    specs: dict = field(default_factory=dict)          # process key → (spec, subprocess specs)
    steps: dict = field(default_factory=dict)          # element id → human or automated step (elements.py)
    code: list = field(default_factory=list)           # (element id, kind, source, mode)
    problems: list = field(default_factory=list)       # why a model cannot run (models only)

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


def schema_problems(document):
    """BPMN XSD violations (unknown or misplaced elements) of one diagram."""
    try:
        _validator().validate(document.root, document.filename)
    except ValidationException as error:
        line = error.line_number if isinstance(error.line_number, int) else None
        return [Problem(f"not valid BPMN: {error}", None, line, document.filename)]
    return []


def build(documents):
    """Build specs for the executable processes; return (Bundle, problems that stop them running).

    Call `schema_problems` first: a document that is not valid BPMN is not a model either."""
    bundle = Bundle(documents, dialect_of(documents))
    problems = []
    for document in bundle.diagrams:
        bundle.steps.update(elements.human_steps(document.root))
        bundle.steps.update(elements.automated_steps(document.root))
        for process in _executable(document):   # code in a model that never runs is not checked
            bundle.code.extend(elements.code(process))
    problems += _form_problems(bundle) + _reserved_id_problems(bundle) + _reference_problems(bundle)
    executable = [p.key for p in bundle.processes if p.executable]
    if problems or not executable:
        return bundle, problems
    parser = DIALECTS[bundle.dialect]()
    try:
        for document in documents:
            if document.kind == "dmn":
                parser.add_dmn_xml(document.root, document.filename)
            else:
                parser.add_bpmn_xml(normalise.for_execution(document.root), document.filename)
        for key in executable:
            bundle.specs[key] = (parser.get_spec(key), parser.get_subprocess_specs(key))
    except Exception as error:  # the parsers raise more than ValidationException on odd input
        problems.append(_as_problem(error, documents))
    return bundle, problems


def _executable(document):
    return [p for p in document.root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]


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
        for form_field in step.get("form", []):
            message = elements.form_problem(form_field)
            if message:
                found.append(Problem(message, element_id, *locate(element_id, bundle.documents)))
    return found


_WHAT_IS_CALLED = {
    "process": ("call activity names no process to call (calledElement)",
                "calls process {!r}, which is not in this upload: upload its diagram together with this one"),
    "decision": ("business rule task names no decision table (camunda:decisionRef)",
                 "uses decision table {!r}, which is not in this upload: upload its .dmn file together with this one"),
}


def _reference_problems(bundle):
    """Call activities and business rule tasks must name something uploaded with them; the parser
    would fail on them too, but without naming the element."""
    known = {"process": {p.key for p in bundle.processes},
             "decision": {d.get("id") for doc in bundle.documents if doc.kind == "dmn"
                          for d in doc.root.iter("{*}decision")}}
    found = []
    for document in bundle.diagrams:
        for process in _executable(document):
            for element, kind, name in elements.references(process):
                unnamed, unknown = _WHAT_IS_CALLED[kind]
                if name is None or name not in known[kind]:
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
            if document.kind == "bpmn":
                found = document.root.xpath("//*[@id=$id]", id=element_id)
                if found:
                    return found[0].sourceline, document.filename
    return None, None
