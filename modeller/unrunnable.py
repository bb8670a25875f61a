"""What a diagram may draw but Baton's engine cannot run, refused at deploy in plain words.

SpiffWorkflow either rejects these with a message that quotes raw XML (compensation), or accepts
them and fails at run time (a message or signal event with no name answers the first start with a
server error; JavaScript that happens to parse as Python runs as Python). Deploy names the element
and says what to change; `?as=model` still keeps such a diagram as a model.
"""
from .reader import BPMN_NS, Problem

PYTHON_FORMATS = {"", "python", "python3", "py", "text/x-python", "text/python", "application/x-python"}
_NAMED_EVENTS = {"messageEventDefinition": ("messageRef", "message"),
                 "signalEventDefinition": ("signalRef", "signal")}


def _b(tag):
    return f"{{{BPMN_NS}}}{tag}"


def problems(document, processes):
    """Every construct in the executable `processes` of `document` that cannot run."""
    named = {element.get("id"): (element.get("name") or "").strip()
             for kind in ("message", "signal") for element in document.root.iter(_b(kind))}
    found = []
    for process in processes:
        for element, message in (*_compensation(process), *_nameless_events(process, named),
                                 *_foreign_scripts(process)):
            found.append(Problem(message, element.get("id"), element.sourceline, document.filename))
    return found


def _compensation(process):
    for definition in process.iter(_b("compensateEventDefinition")):
        yield definition.getparent(), ("compensation events (undoing completed steps) cannot run in Baton: remove "
                                       "them and their compensating activities, or deploy the diagram as a model")
    for activity in process.iter():
        if activity.get("isForCompensation") == "true":
            yield activity, ("this activity is a compensation handler, and compensation cannot run in Baton: "
                             "remove it, or deploy the diagram as a model")


def _nameless_events(process, named):
    for tag, (reference, kind) in _NAMED_EVENTS.items():
        for definition in process.iter(_b(tag)):
            ref = definition.get(reference)
            if ref is None:
                yield definition.getparent(), (f"this {kind} event names no {kind}: "
                                               f"choose or create the {kind} it waits for or sends")
            elif not named.get(ref):
                yield definition.getparent(), f"the {kind} {ref!r} this event uses has no name: give the {kind} a name"
    for task in (*process.iter(_b("receiveTask")), *process.iter(_b("sendTask"))):
        ref = task.get("messageRef")
        if ref is not None and not named.get(ref):
            yield task, f"the message {ref!r} this task uses has no name: give the message a name"


def _foreign_scripts(process):
    for task in process.iter(_b("scriptTask")):
        language = (task.get("scriptFormat") or "").strip()
        if language.lower() not in PYTHON_FORMATS:
            yield task, (f"this script is written in {language}, and Baton runs Python scripts only: "
                         "rewrite it in Python and set the script format to python")
    for condition in process.iter(_b("conditionExpression")):
        language = (condition.get("language") or "").strip()
        if language.lower() not in PYTHON_FORMATS | {"juel", "http://www.omg.org/spec/bpmn/20100524/model"}:
            yield condition.getparent(), (f"this condition is written in {language}, and Baton evaluates Python "
                                          "(or JUEL ${...}) conditions only: rewrite it and remove its language")
