"""Link events: a throw link jumps to the catch link of the same name in the same process level.

BPMN draws them as off-page connectors; SpiffWorkflow 3.2 does not know them (the throw ends its
path, the catch is never reached, and the instance stops without reaching an end event). In the
copy handed to the engine each pair becomes what it means: a sequence flow from the throw event to
the catch event, both plain pass-through events.
"""
from lxml import etree

from .reader import BPMN_NS, Problem

_LEVELS = ("process", "subProcess", "transaction")


def _b(tag):
    return f"{{{BPMN_NS}}}{tag}"


def _link_name(event):
    definition = event.find(_b("linkEventDefinition"))
    if definition is None:
        return None
    return (definition.get("name") or event.get("name") or "").strip()


def _links(level, tag):
    """{link name: [events]} of one process level (not of the subprocesses inside it)."""
    found = {}
    for event in level.findall(_b(tag)):
        name = _link_name(event)
        if name is not None:
            found.setdefault(name, []).append(event)
    return found


def _levels(root):
    return [level for tag in _LEVELS for level in root.iter(_b(tag))]


def problems(document, processes):
    """Throw links with no catch link of their name, and names caught twice, in executable `processes`."""
    found = []
    for process in processes:
        for level in [process, *(lv for tag in _LEVELS[1:] for lv in process.iter(_b(tag)))]:
            catches = _links(level, "intermediateCatchEvent")
            for name, throws in _links(level, "intermediateThrowEvent").items():
                if len(catches.get(name, [])) != 1:
                    what = "no" if not catches.get(name) else "more than one"
                    found += [Problem(f"link event {name!r} has {what} catching link event of that name in the same "
                                      "process level", t.get("id"), t.sourceline, document.filename) for t in throws]
    return found


def join(root):
    """Turn each throw/catch link pair of `root` (changed in place) into a sequence flow."""
    for level in _levels(root):
        catches = _links(level, "intermediateCatchEvent")
        for name, throws in _links(level, "intermediateThrowEvent").items():
            if len(catches.get(name, [])) != 1:
                continue            # refused at deploy; a model is never run
            catch = catches[name][0]
            catch.tag = _b("intermediateThrowEvent")
            catch.remove(catch.find(_b("linkEventDefinition")))
            for throw in throws:
                throw.remove(throw.find(_b("linkEventDefinition")))
                etree.SubElement(level, _b("sequenceFlow"), id=f"{throw.get('id')}_link",
                                 sourceRef=throw.get("id"), targetRef=catch.get("id"))
    return root
