"""Whether the start event of an event subprocess interrupts the rest of its process.

SpiffWorkflow's parsers read `isInterrupting` for boundary events only; the start events of event
subprocesses get it here (`interrupting`, BPMN's default true), and engine/event_subprocesses.py
acts on it.
"""
from .reader import BPMN_NS


def interrupting(root):
    """{start event id: whether it interrupts} for the start events of event subprocesses under `root`."""
    return {start.get("id"): start.get("isInterrupting", "true") != "false"
            for sub in root.iter(f"{{{BPMN_NS}}}subProcess") if sub.get("triggeredByEvent") == "true"
            for start in sub.findall(f"{{{BPMN_NS}}}startEvent")}


def attach(specs, documents):
    found = {k: v for d in documents if d.kind == "bpmn" for k, v in interrupting(d.root).items()}
    for spec, called in specs.values():
        for process_spec in (spec, *called.values()):
            for task_spec in process_spec.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) in found:
                    task_spec.interrupting = found[task_spec.bpmn_id]
