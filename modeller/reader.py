"""Reading uploaded BPMN/DMN bytes safely and checking them before anything is stored.

Uploads come from other companies' tools: they are parsed with entity resolution, DTDs and the
network switched off, refused outright when they declare a DOCTYPE, capped in size, and checked
for the structural faults the engine would otherwise trip on later (duplicate ids, dangling
references). Every refusal is a list of `Problem`s naming the element and line.
"""
import os
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = {
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
}
XINCLUDE_NAMESPACES = {"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"}
OMG_NAMESPACE_PREFIX = "{http://www.omg.org/spec/"   # BPMN, BPMN DI, DC, DI: where element ids are BPMN ids
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_REFERENCES = [  # (tag, attribute) pairs whose value must name an element of the document
    ("sequenceFlow", "sourceRef"), ("sequenceFlow", "targetRef"),
    ("messageFlow", "sourceRef"), ("messageFlow", "targetRef"),
    ("boundaryEvent", "attachedToRef"),
    ("exclusiveGateway", "default"), ("inclusiveGateway", "default"), ("complexGateway", "default"),
]


def max_upload_bytes():
    return int(os.environ.get("BATON_MAX_UPLOAD_BYTES", 5 * 1024 * 1024))


@dataclass(frozen=True)
class Problem:
    """One reason a document cannot be stored or run."""
    message: str
    element_id: str | None = None
    line: int | None = None
    file: str | None = None

    def as_dict(self):
        return asdict(self)


class DocumentRejected(Exception):
    """The upload is refused; `problems` says every reason found."""

    def __init__(self, problems):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


@dataclass
class Process:
    key: str
    name: str | None
    executable: bool


@dataclass
class Document:
    """A parsed upload: the original bytes (kept untouched) and the tree read from them."""
    filename: str
    content: bytes
    root: etree._Element | None
    kind: str                      # "bpmn", "dmn", or "form" (another tool's form file: see foreign_forms)
    processes: list = field(default_factory=list)
    data: object = None            # a form file's content

    @property
    def uses_spiff_extensions(self):
        return _uses_namespace(self.root, SPIFF_NS)

    @cached_property
    def lines(self):
        """Element id → line of the first element with that id, read once: naming the line of every
        problem in a file with thousands of them stays linear."""
        found = {}
        for element in (self.root.iter(etree.Element) if self.root is not None else ()):
            found.setdefault(element.get("id"), element.sourceline)
        return found


def _parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=False)


def read(filename, content):
    """Parse one uploaded file; raise DocumentRejected with every problem found."""
    problems = check_envelope(filename, content)
    if problems:
        raise DocumentRejected(problems)
    try:
        tree = etree.fromstring(content, _parser()).getroottree()
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        raise DocumentRejected([Problem(f"not well-formed XML: {error.msg}", None, line, filename)]) from None
    except (ValueError, LookupError, MemoryError, RecursionError) as error:  # odd encodings, odd input
        raise DocumentRejected([Problem(f"cannot read this file as XML: {error}", None, None, filename)]) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise DocumentRejected([Problem("DOCTYPE declarations are not allowed", None, 1, filename)])
    _raise_if(_foreign_nodes(tree, filename))
    root = tree.getroot()
    namespace = etree.QName(root).namespace
    if root.tag == f"{{{BPMN_NS}}}definitions":
        document = Document(filename, content, root, "bpmn", _processes(root))
        _raise_if(_structural_problems(document))
        return document
    if namespace in DMN_NAMESPACES and etree.QName(root).localname == "definitions":
        return Document(filename, content, root, "dmn")
    raise DocumentRejected([Problem(
        f"not a BPMN or DMN document: the root element is <{etree.QName(root).localname}> "
        f"in namespace {namespace or 'none'}", None, root.sourceline, filename)])


def check_envelope(filename, content):
    limit = max_upload_bytes()
    if len(content) > limit:
        return [Problem(f"file is {len(content)} bytes; the limit is {limit} bytes", file=filename)]
    if not content.strip():
        return [Problem("file is empty", file=filename)]
    # NUL bytes removed, the same test also finds a DOCTYPE written in UTF-16 or UTF-32
    for text in (content, content.replace(b"\x00", b"")):
        found = _DOCTYPE.search(text) or _ENTITY.search(text)
        if found:
            return [Problem("DOCTYPE declarations are not allowed (entities and DTDs can read files or "
                            "expand without limit)", None, _line_at(text, found.start()), filename)]
    return []


def _line_at(content, offset):
    return content.count(b"\n", 0, offset) + 1


def _foreign_nodes(tree, filename):
    """Processing instructions, entity references and XInclude: nothing a diagram needs, each a way in."""
    root = tree.getroot()
    problems = []
    for node in [*root.itersiblings(preceding=True), *root.iter(etree.PI, etree.Entity), *root.itersiblings()]:
        if isinstance(node, etree._ProcessingInstruction):
            problems.append(Problem(f"processing instructions are not allowed (<?{node.target} ...?>)",
                                    _owner_id(node), node.sourceline, filename))
        elif isinstance(node, etree._Entity):
            problems.append(Problem(f"entity references are not allowed ({node.text})", _owner_id(node),
                                    node.sourceline, filename))
    for node in root.iter(etree.Element):
        if etree.QName(node).namespace in XINCLUDE_NAMESPACES:
            problems.append(Problem("XInclude is not allowed: a diagram must be one self-contained file",
                                    _owner_id(node), node.sourceline, filename))
    return problems


def _owner_id(node):
    while node is not None:
        if isinstance(node.tag, str) and node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _raise_if(problems):
    if problems:
        raise DocumentRejected(problems)


def is_executable(process, root):
    """`isExecutable="true"`; or, in a SpiffArena file, no `isExecutable` at all (SpiffArena runs those,
    and its editor does not write the attribute). Elsewhere a process without it stays a model."""
    flag = process.get("isExecutable")
    return flag == "true" or (flag is None and _uses_namespace(root, SPIFF_NS))


def _processes(root):
    return [Process(p.get("id"), p.get("name"), is_executable(p, root))
            for p in root.iter(f"{{{BPMN_NS}}}process")]


def _structural_problems(document):
    problems, seen = [], {}
    for element in document.root.iter(etree.Element):
        element_id = element.get("id")
        # ids of extension elements (camunda:formField, vendor data) are not BPMN ids: two tasks may
        # each have a form field "approved", and tools keep their own ids in extensionElements
        if element_id is None or not element.tag.startswith(OMG_NAMESPACE_PREFIX):
            continue
        if element_id in seen:
            problems.append(Problem(f"duplicate id {element_id!r} (first used on line {seen[element_id]})",
                                    element_id, element.sourceline, document.filename))
        else:
            seen[element_id] = element.sourceline
    for tag, attribute in _REFERENCES:
        for element in document.root.iter(f"{{{BPMN_NS}}}{tag}"):
            target = element.get(attribute)
            if target is not None and target not in seen:
                problems.append(Problem(f"{attribute} refers to unknown element {target!r}",
                                        element.get("id"), element.sourceline, document.filename))
    return problems


_IN_NAMESPACE = etree.XPath("boolean(//*[namespace-uri() = $uri] | //@*[namespace-uri() = $uri])")


def _uses_namespace(root, namespace):
    """Whether an element or attribute of the file is in `namespace` (declaring it is not using it)."""
    return _IN_NAMESPACE(root, uri=namespace)
