"""The dates of a plan: each step ahead gets a planned due date and an owner, each step done keeps the
dates it actually had.

A step's planned date is its `camunda:dueDate` as the data reads now: an expression or a date-time
as it stands, a duration (`P2D`) counted from when the step before it is planned to end. A step with no
due date is planned to take its `estimate` (a `camunda:properties` entry), or no time at all.
"""
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from sqlalchemy import select

from modeller.elements import deadline_kind

from .. import assignment, calendars, clock, deadlines, forms, instances, workdays
from ..models import HumanTask
from .walk import walk

PLANNED_KINDS = ("userTask", "manualTask", "task")
MAX_NESTING = 8   # sub-processes within sub-processes (and processes calling each other) the plan enters


def data_fields(bundle):
    """The data fields the diagram's forms define (the first form that names one decides its type), none
    required or read-only: what the data of an instance is read as, and what a person may change."""
    fields = {}
    for step in bundle.steps.values():
        for field in step.get("form", []):
            fields.setdefault(field["id"], {"min": None, "max": None, **field, "required": False, "readonly": False})
    return fields


def typed_data(bundle, data):
    """The instance's stored data (JSON: dates as text) with each form field typed as its form types it,
    so that `publish_date - days(5)` reads a date."""
    fields = data_fields(bundle)
    values, _ = forms.validate([fields[key] for key in data if key in fields], data)
    return {**data, **values}


def taken(process, bundle, rows):
    """Whether the instance already went down the flow into `name`: the first steps for people on it
    have a task row (open or done). Read from the task rows, so the plan never loads the workflow."""
    def was_taken(name):
        seen, ahead = set(), [name]
        while ahead:
            current = ahead.pop()
            if current in seen:
                continue
            seen.add(current)
            element = process.task_specs[current].bpmn_id
            if element in bundle.steps and bundle.steps[element]["kind"] in PLANNED_KINDS:
                if element in rows:
                    return True
                continue
            ahead += [output.name for output in process.task_specs[current].outputs]
        return False
    return was_taken


def _rows(session, instance_id):
    """element id → (its open row, its latest completed row)."""
    found = {}
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)
                           .order_by(HumanTask.created_at, HumanTask.id))
    for row in rows:
        open_row, done_row = found.get(row.element_id, (None, None))
        if row.state == "open":
            open_row = row
        elif row.state == "completed":
            done_row = row
        found[row.element_id] = (open_row, done_row)
    return found


def planned_date(step, data, base):
    """When a step not yet open is due: its due date read with `data`, chained from `base`; None when the
    data cannot say yet (an anchor date not filled in)."""
    try:
        if step["due"]:
            return deadlines.resolve(step["due"], data, base)
        if step.get("estimate") and deadline_kind(step["estimate"]) == "duration":
            return workdays.to_working_day(calendars.active(), base + deadlines.parse_duration(step["estimate"], base),
                                           backwards=False)
    except Exception:   # noqa: BLE001 - the plan shows the step without a date rather than fail
        return None
    return base


def _timer_wait(spec):
    """How long a fixed-duration timer on the path waits (nothing for other elements)."""
    definition = getattr(spec, "event_definition", None)
    if type(definition).__name__ != "DurationTimerEventDefinition":
        return None
    try:
        return deadlines.parse_duration(str(definition.expression).strip("'\" "))
    except ValueError:
        return None


def steps_of(bundle, process_key, data, rows, start, spec=None, depth=0):
    """The plan's steps in flow order, and when the last is planned to end. The steps of an embedded
    sub-process or a called process are planned in its place, from when the step before it ends."""
    spec = spec or bundle.specs[process_key][0]
    ends, steps = {}, []
    for node in walk(spec, data, taken(spec, bundle, rows)):
        base = max((ends[before] for before, _ in node.before if ends.get(before)), default=start)
        inner = _inner_spec(bundle, process_key, node.spec) if depth < MAX_NESTING else None
        if inner is not None:
            inside, finish = steps_of(bundle, process_key, data, rows, base, inner, depth + 1)
            steps += [{**entry, "state": "undecided"} if node.undecided and entry["state"] == "planned" else entry
                      for entry in inside]
            ends[node.name] = finish or base
            continue
        step = bundle.steps.get(node.spec.bpmn_id) if node.spec.bpmn_id else None
        if step is None or step["kind"] not in PLANNED_KINDS:
            wait = _timer_wait(node.spec)
            ends[node.name] = base + wait if wait else base
            continue
        entry, ends[node.name] = _step(node, step, data, rows.get(node.spec.bpmn_id, (None, None)), base,
                                       bundle.dialect)
        steps.append(entry)
    finish = max((s["completed_at"] or s["planned_due"] for s in steps if s["completed_at"] or s["planned_due"]),
                 default=None)
    return steps, finish


def _inner_spec(bundle, process_key, spec):
    """The spec an embedded sub-process or a call activity runs, or None."""
    if not isinstance(spec, SubWorkflowTask):
        return None
    return bundle.specs[process_key][1].get(spec.spec) or \
        (bundle.specs[spec.spec][0] if spec.spec in bundle.specs else None)


def _step(node, step, data, rows, base, dialect):
    """One step of the plan and when it is planned to end."""
    open_row, done_row = rows
    roles, owner, _, _ = assignment.people(step, data, None, dialect) if open_row is None and done_row is None \
        else (step["roles"], None, None, None)   # who it will be for, read as it will be when it opens
    entry = {"element_id": node.spec.bpmn_id, "name": step["name"], "roles": roles,
             "owner": None if assignment.is_expression(owner) else owner,
             "state": "undecided" if node.undecided else "planned",
             "planned_due": None, "due_at": None, "completed_at": None, "completed_by": None}
    if open_row is not None:
        planned = planned_date(step, data, open_row.created_at) if step["due"] else open_row.due_at
        entry.update(state="open", owner=open_row.claimed_by or open_row.assignee, due_at=open_row.due_at,
                     planned_due=planned)
        return entry, planned or planned_date(step, data, max(base, open_row.created_at))
    if done_row is not None:
        entry.update(state="done", owner=done_row.completed_by, planned_due=done_row.due_at,
                     due_at=done_row.due_at, completed_at=done_row.completed_at,
                     completed_by=done_row.completed_by)
        return entry, done_row.completed_at
    entry["planned_due"] = planned_date(step, data, base)
    return entry, entry["planned_due"] or base


def _describe(instance, steps, finish):
    return {"instance_id": instance.id, "predicted_end": instance.ended_at or finish, "steps": steps}


def compute(session, instance, bundle, data):
    """The plan of `instance` if its data were `data`, from the diagram and the task rows (the workflow is
    neither loaded nor run: a plan costs the same after ten steps or two hundred)."""
    calendars.keep_fresh(session)
    steps, finish = steps_of(bundle, instance.process_key, data, _rows(session, instance.id),
                             instance.created_at or clock.now())
    return _describe(instance, steps, finish)


def of_instance(session, instance):
    """The plan of an instance with its current data."""
    bundle = instances.bundle_of(session, instance)
    return compute(session, instance, bundle, typed_data(bundle, instance.data or {}))


def preview(session, instance, changes):
    """The plan as it would be with `changes` (typed values) applied to the data; nothing is saved."""
    bundle = instances.bundle_of(session, instance)
    return compute(session, instance, bundle, {**typed_data(bundle, instance.data or {}), **changes})


def around(session, row):
    """(before, after) a task for its page: the steps done before it, with who did them and when, and the
    steps still to come after it, with their roles and planned dates."""
    instance = instances.get(session, row.instance_id)
    steps = of_instance(session, instance)["steps"]
    here = next((n for n, step in enumerate(steps) if step["element_id"] == row.element_id), len(steps))
    before = [step for step in steps[:here] if step["state"] == "done"]
    after = [step for step in steps[here + 1:] if step["state"] != "done"]
    return before, after
