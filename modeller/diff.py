"""What changed between two versions of a diagram, element by element (by id).

An element is *changed* when its attributes, its text or its id-less content (documentation,
conditions, form fields, extensions) differ, and *moved* when only its shape or waypoints did. What
changed is named as the modeller's panel names it (`field_names`).
"""
from lxml import etree

from .field_names import label
from .reader import BPMN_NS, BPMNDI_NS


def _own_content(element):
    """The element's attributes, text and id-less children, as comparable text."""
    parts = [(element.text or "").strip()]
    for child in element:
        if isinstance(child.tag, str) and child.get("id") is None:
            parts.append(etree.tostring(child, method="c14n").decode())
    return parts


def _semantic(root):
    return {e.get("id"): e for e in root.iter(etree.Element)
            if e.get("id") and etree.QName(e).namespace == BPMN_NS and etree.QName(e).localname != "definitions"}


def _layout(root):
    return {e.get("bpmnElement"): etree.tostring(e, method="c14n").decode()
            for tag in ("BPMNShape", "BPMNEdge") for e in root.iter(f"{{{BPMNDI_NS}}}{tag}")}


def _describe(element):
    return {"id": element.get("id"), "type": etree.QName(element).localname, "name": element.get("name")}


def compare(old_root, new_root):
    old, new = _semantic(old_root), _semantic(new_root)
    old_layout, new_layout = _layout(old_root), _layout(new_root)
    changed, moved = [], []
    for element_id in sorted(old.keys() & new.keys()):
        before, after = old[element_id], new[element_id]
        details = sorted(name for name in set(before.attrib) | set(after.attrib)
                         if before.get(name) != after.get(name))
        if before.tag != after.tag:
            details.append("type")
        if _own_content(before) != _own_content(after):
            details.append("content")
        if details:
            changed.append({**_describe(after), "changes": sorted({label(name) for name in details})})
        elif old_layout.get(element_id) != new_layout.get(element_id):
            moved.append(_describe(after))
    return {"added": [_describe(new[i]) for i in sorted(new.keys() - old.keys())],
            "removed": [_describe(old[i]) for i in sorted(old.keys() - new.keys())],
            "changed": changed, "moved": moved}
