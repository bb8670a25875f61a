"""What Baton reads from a diagram besides what SpiffWorkflow executes.

For every human step (user, manual and plain tasks, and start events with a form) the runtime
needs who may do it, its form, its deadline and its instructions, without deserialising the
workflow. SpiffWorkflow's Camunda parser ignores `camunda:assignee`, `candidateGroups` and
`dueDate`, and only reads form fields when a `formKey` is set, so they are read here from the XML.
The code a diagram carries is listed too, so it can be compiled in the sandbox at deploy time.
"""
import re

from . import foreign_forms
from .normalise import juel_to_python, quote_timer
from .reader import BPMN_NS, CAMUNDA_NS, SPIFF_NS, Problem

HUMAN_TAGS = ("userTask", "manualTask", "task", "startEvent")
FORM_TYPES = {"string", "textarea", "long", "double", "boolean", "date", "enum", "file"}
_CONSTRAINTS = ("required", "readonly", "min", "max", "minlength", "maxlength",
                "accept", "maxsize", "maxfiles")   # the last three: file fields (engine/files.py)
_JUEL_EXPRESSION = re.compile(r"^\s*[$#]\{.*\}\s*$", re.DOTALL)
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


def _b(tag):
    return f"{{{BPMN_NS}}}{tag}"


def _c(name):
    return f"{{{CAMUNDA_NS}}}{name}"


def split_names(text):
    """`" Writer, seo "` → `["writer", "seo"]`: role names match case-insensitively after trimming."""
    return [part.strip().lower() for part in (text or "").split(",") if part.strip()]


def _people(text):
    """Candidate users: names as `split_names` reads them, or one expression kept as written
    (`${reviewerList}` is read from the data when the step opens; its case matters)."""
    return [text.strip()] if is_expression(text) else split_names(text)


def deadline_kind(text):
    """How a due/follow-up value is read: an ISO instant, an ISO duration, or an expression."""
    value = (text or "").strip()
    if _ISO_INSTANT.match(value):
        return "instant"
    if _ISO_DURATION.match(value):
        return "duration"
    return "expression"


def _lanes(root):
    owner = {}
    for lane in root.iter(_b("lane")):
        for ref in lane.findall(_b("flowNodeRef")):
            owner[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    return owner


def _documentation(element):
    return "\n\n".join((d.text or "").strip() for d in element.findall(_b("documentation")) if d.text).strip()


def form_fields(element):
    """The `camunda:formData` fields of an element as plain dicts."""
    fields = []
    for node in element.iter(_c("formField")):
        field = {"id": node.get("id"), "label": node.get("label") or node.get("id"),
                 "type": node.get("type") or "string", "default": node.get("defaultValue"),
                 "required": False, "readonly": False}
        for constraint in node.iter(_c("constraint")):
            name, config = constraint.get("name"), constraint.get("config")
            if name in ("required", "readonly"):
                field[name] = (config or "true").strip().lower() != "false"
            elif name == "required_when":   # Baton's: `approved = false` (see `required_when`)
                field[name] = config or ""
            elif name in _CONSTRAINTS:
                field[name] = config
        if field["type"] == "enum":
            field["values"] = [{"id": v.get("id"), "name": v.get("name") or v.get("id")}
                               for v in node.iter(_c("value"))]
        fields.append(field)
    return fields


def foreign_form_warnings(root, forms):
    """What deploy says about the human steps' forms from other tools: missing files, fields left out."""
    return [Problem(message, element.get("id"))
            for tag in HUMAN_TAGS for element in root.iter(_b(tag)) if not element.findall(f".//{_c('formField')}")
            for message in foreign_forms.fields(element, forms)[1]]


def human_steps(root, forms=None):
    """element id → what the inbox and the form need for each human step of the document; `forms`
    (`foreign_forms.index`) are the form files uploaded with it, for steps whose form is one of them."""
    lanes, steps = _lanes(root), {}
    for tag in HUMAN_TAGS:
        for element in root.iter(_b(tag)):
            fields = form_fields(element) or (foreign_forms.fields(element, forms)[0] if forms else [])
            if tag == "startEvent" and not fields:
                continue
            element_id = element.get("id")
            lane = lanes.get(element_id)
            groups = element.get(_c("candidateGroups"))
            steps[element_id] = {
                "kind": tag, "name": element.get("name") or element_id, "lane": lane,
                "roles": split_names(groups) if groups is not None else split_names(lane),
                "assignee": (element.get(_c("assignee")) or "").strip() or None,
                "candidate_users": _people(element.get(_c("candidateUsers"))),
                "due": (element.get(_c("dueDate")) or "").strip() or None,
                "follow_up": (element.get(_c("followUpDate")) or "").strip() or None,
                "documentation": _documentation(element), "form": fields,
                "estimate": _property(element, "estimate"),   # ISO duration the team expects the step to take
                "reminders": _property(element, "reminders") or _process_property(element, "reminders"),
            }
    return steps


def _property(element, name):
    """The value of the element's `camunda:properties` entry `name`, or None."""
    for node in element.iter(_c("property")):
        if node.get("name") == name:
            return (node.get("value") or node.text or "").strip() or None
    return None


def _process_property(element, name):
    """The `camunda:properties` entry `name` of the process holding `element` (its own, not its steps'):
    a default for every step, such as `reminders` (`PT48H,PT24H`: ISO durations before the due date)."""
    process = next((parent for parent in element.iterancestors(_b("process"))), None)
    if process is None:
        return None
    for node in process.findall(f"{_b('extensionElements')}/{_c('properties')}/{_c('property')}"):
        if node.get("name") == name:
            return (node.get("value") or node.text or "").strip() or None
    return None


AUTOMATED_TAGS = ("serviceTask", "sendTask")


def automated_steps(root):
    """element id → {kind, type, properties} for service and send tasks (e.g. `camunda:type="email"`
    with `to`, `subject`, `body` properties)."""
    steps = {}
    for tag in AUTOMATED_TAGS:
        for element in root.iter(_b(tag)):
            properties = {p.get("name"): p.get("value") or (p.text or "")
                          for p in element.iter(_c("property")) if p.get("name")}
            steps[element.get("id")] = {"kind": tag, "name": element.get("name") or element.get("id"),
                                        "type": (element.get(_c("type")) or "").strip().lower() or None,
                                        "properties": properties}
    return steps


def references(root):
    """What the elements under `root` call by name, as (element, "process" or "decision", name or None):
    call activities name a process, business rule tasks a DMN decision."""
    for node in root.iter(_b("callActivity")):
        yield node, "process", (node.get("calledElement") or "").strip() or None
    for node in root.iter(_b("businessRuleTask")):
        spiff = node.find(f".//{{{SPIFF_NS}}}calledDecisionId")
        name = node.get(_c("decisionRef")) or (spiff.text if spiff is not None else None)
        yield node, "decision", (name or "").strip() or None


def code(root):
    """Every piece of code under `root` (a process), as (element id, what it is, source, mode).

    Sources are given as the engine will see them (JUEL translated, bare timers quoted).
    """
    found = []
    for tag in ("conditionExpression", "completionCondition", "loopCardinality"):
        for node in root.iter(_b(tag)):
            if (node.text or "").strip():
                found.append((node.getparent().get("id"), tag, juel_to_python(node.text).strip(), "eval"))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(_b(tag)):
            owner = node.getparent().getparent()
            if (node.text or "").strip():
                found.append((owner.get("id"), tag, quote_timer(juel_to_python(node.text)).strip(), "eval"))
    for node in root.iter(_b("scriptTask")):
        script = node.find(_b("script"))
        if script is not None and (script.text or "").strip():
            found.append((node.get("id"), "script", script.text, "exec"))
    for element_id, step in human_steps(root).items():
        for key in ("due", "follow_up"):
            if step[key] and deadline_kind(step[key]) == "expression":
                found.append((element_id, f"camunda:{key}", juel_to_python(step[key]), "eval"))
        for key, text in [("camunda:assignee", step["assignee"])] + [("camunda:candidateUsers", user)
                                                                       for user in step["candidate_users"]]:
            if is_expression(text):   # who does it, read from the data (engine/assignment.py)
                found.append((element_id, key, juel_to_python(text), "eval"))
    return found


def is_expression(text):
    """Whether a step's assignee or candidate user is an expression over the data (`${approver}`)."""
    return bool(text) and bool(_JUEL_EXPRESSION.match(text))


def initiators(root):
    """process id → the variable its start event's `camunda:initiator` names (who started the instance)."""
    return {process.get("id"): event.get(_c("initiator")) for process in root.iter(_b("process"))
            for event in process.findall(_b("startEvent")) if event.get(_c("initiator"))}


def decision_code(root):
    """Every cell of the decision tables under `root` (a DMN document), as (rule or input id, what it
    is, text): input expressions, input entries (`?` stands for the input) and output entries.
    An empty cell or `-` matches anything and is left out."""
    found = []
    for tag in ("inputExpression", "inputEntry", "outputEntry"):
        for node in root.iter(f"{{*}}{tag}"):
            text = next((child.text for child in node if str(child.tag).endswith("}text")), None)
            if text and text.strip() and text.strip() != "-":
                found.append((node.getparent().get("id") or node.get("id"), tag, text.strip()))
    return found


def reminders_problem(text):
    """Why a step's `reminders` property (`PT48H,PT24H`: ISO durations before the due date) cannot be used, or None."""
    wrong = [part.strip() for part in (text or "").split(",")
             if part.strip() and deadline_kind(part.strip()) != "duration"]
    if not wrong:
        return None
    return ("reminders must be ISO durations before the due date, such as PT48H,PT24H "
            f"(not {', '.join(map(repr, wrong))})")


_CONDITION = re.compile(r"^\s*([A-Za-z_]\w*)\s*(==|!=|=)\s*(\S.*?)\s*$")


def required_when(text):
    """The condition of a `required_when` constraint, `approved = false` or `channel != 'email'`, as
    {"field", "negated", "value"}: a comparison with a literal, never code, so it can be checked
    anywhere without the sandbox. ValueError says how to write it."""
    found = _CONDITION.match(text or "")
    if not found:
        raise ValueError("write it as <field> = <value> or <field> != <value>, e.g. approved = false")
    name, operator, literal = found.groups()
    return {"field": name, "negated": operator == "!=", "value": _literal(literal)}


def _literal(text):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def condition_problems(fields):
    """Why the `required_when` conditions of one form's fields cannot be used: each must compare
    another field of the same form."""
    ids, problems = {f["id"] for f in fields}, []
    for field in fields:
        if "required_when" not in field:
            continue
        try:
            condition = required_when(field["required_when"])
        except ValueError as error:
            problems.append(f"form field {field['id']!r}: required_when {field['required_when']!r}: {error}")
            continue
        if condition["field"] not in ids - {field["id"]}:
            problems.append(f"form field {field['id']!r}: required_when names {condition['field']!r}, which is not "
                            "another field of this form")
    return problems


def form_problem(field):
    """Why a form field definition cannot be used, or None."""
    if not field["id"]:
        return "a form field has no id"
    if field["type"] not in FORM_TYPES:
        return (f"form field {field['id']!r} has unsupported type {field['type']!r} "
                f"(use {', '.join(sorted(FORM_TYPES))})")
    if field["type"] == "enum" and not field.get("values"):
        return f"enum form field {field['id']!r} has no values"
    if field["type"] == "file":
        return _file_field_problem(field)
    return None


def _file_field_problem(field):
    """A file field's `maxfiles` is a whole number from 1 to 20, its `maxsize` a positive number of MB."""
    try:
        if not 1 <= int(field.get("maxfiles") or 1) <= 20:
            raise ValueError
    except ValueError:
        return f"file field {field['id']!r}: maxfiles must be a whole number from 1 to 20"
    try:
        if field.get("maxsize") not in (None, "") and not 0 < float(field["maxsize"]) < 1e6:
            raise ValueError
    except ValueError:
        return f"file field {field['id']!r}: maxsize must be a positive number of megabytes"
    return None
