"""What a call activity hands its called process and takes back: Camunda 7's `camunda:in`/`camunda:out`.

Camunda passes only what the mappings name (`source` → `target`, `sourceExpression` → `target`,
or `variables="all"`); SpiffWorkflow alone copies the caller's whole data in and the child's whole
data, scratch values included, back out. A call activity with any mapping gets Camunda's meaning
(engine/call_data.py applies it); one with none keeps SpiffWorkflow's, which plain BPMN and
SpiffArena files (data inputs and outputs on the called process) rely on. `local` only narrows
which variables Camunda reads in its variable scopes; Baton's data has one scope, so it changes nothing.
"""
from .normalise import juel_to_python
from .reader import BPMN_NS, CAMUNDA_NS


def read(root):
    """{call activity id: {"in": [mapping], "out": [mapping]}} for call activities with mappings, each
    mapping {"all": bool, "source", "expression" (Python), "target"}."""
    found = {}
    for activity in root.iter(f"{{{BPMN_NS}}}callActivity"):
        extensions = activity.find(f"{{{BPMN_NS}}}extensionElements")
        if extensions is None:
            continue
        mappings = {direction: [_mapping(node) for node in extensions.findall(f"{{{CAMUNDA_NS}}}{direction}")
                                if _mapping(node) is not None]
                    for direction in ("in", "out")}
        if mappings["in"] or mappings["out"]:
            found[activity.get("id")] = mappings
    return found


def _mapping(node):
    if node.get("businessKey") is not None and node.get("target") is None:
        return None                   # the business key: Baton instances have none
    expression = node.get("sourceExpression")
    return {"all": node.get("variables") == "all", "source": node.get("source"),
            "expression": juel_to_python(expression).strip() if expression else None, "target": node.get("target")}


def code(mappings):
    """The expressions among `read`'s mappings, as (element id, what, source, mode) for the deploy checks."""
    return [(element_id, f"camunda:{direction} sourceExpression", m["expression"], "eval")
            for element_id, both in mappings.items() for direction in ("in", "out")
            for m in both[direction] if m["expression"]]


def attach(specs, mappings):
    """Hand each call activity's task spec its mappings (`call_data`), over every built spec."""
    for spec, called in specs.values():
        for process_spec in (spec, *called.values()):
            for task_spec in process_spec.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) in mappings and hasattr(task_spec, "copy_data"):
                    task_spec.call_data = mappings[task_spec.bpmn_id]
