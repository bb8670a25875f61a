"""Moving an anchor date: when data the due dates are drawn from changes (an edit through the API or
the instance page, or a task's form), the open tasks' due dates and reminders and the waiting timers
whose expressions read that data move with it, in the same transaction as the change, and each owner
whose date moved hears it once, with the old and new date."""
import re

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from modeller.elements import deadline_kind
from modeller.normalise import juel_to_python

from .. import clock, cron, deadlines, forms, history, instances, notifications, reminders, sandbox, workflows
from ..data import plain
from ..errors import Conflict, Forbidden, Invalid
from ..insight.visibility import sees_all
from ..models import HumanTask, TaskCandidate
from .build import data_fields
from .build import preview as plan_preview

_NAME = re.compile(r"[A-Za-z_]\w*")


def reads(expression, keys):
    """Whether a due-date or timer expression reads one of the data fields `keys`."""
    if not expression or deadline_kind(expression) != "expression":
        return False
    return bool(set(_NAME.findall(expression)) & set(keys))


_DATED = ("camunda:due", "camunda:follow_up", "timeDate", "timeDuration")


def anchors(bundle):
    """The data fields some due date, follow-up date or timer of the definition reads."""
    return {name for _, what, source, _ in bundle.code if what in _DATED for name in _NAME.findall(source)}


def may_edit(instance, actor):
    """Admins, managers and whoever started the instance may change its data."""
    return sees_all(actor) or instance.started_by == actor.username


def dated_fields(session, instance):
    """The form fields due dates or timers read (the anchors), with their current values: what the
    instance page offers to change."""
    bundle = instances.bundle_of(session, instance)
    fields, read = data_fields(bundle), anchors(bundle)
    return forms.with_defaults([field for key, field in fields.items() if key in read], instance.data or {})


def typed(bundle, submitted):
    """The submitted values typed as the forms type them; Invalid naming every bad field."""
    if not isinstance(submitted, dict) or not submitted:
        raise Invalid("nothing to change", [{"field": "data", "message": "give at least one field to change"}])
    fields = data_fields(bundle)
    unknown = [{"field": key, "message": "is not a field of this process's forms"} for key in submitted
               if key not in fields]
    values, errors = forms.validate([fields[key] for key in submitted if key in fields], submitted)
    errors = unknown + [e for e in errors if e["field"] in fields]
    if errors:
        raise Invalid("the data has errors", errors)
    return values


def _editable(session, instance_id, actor):
    instance = instances.get(session, instance_id)
    if not may_edit(instance, actor):
        raise Forbidden(f"{actor.username} may not change the data of instance {instance_id}")
    if instance.status != "running":
        raise Conflict(f"instance {instance_id} is {instance.status}")
    return instance


def preview(session, instance_id, actor, submitted):
    """The plan the change would give, nothing saved."""
    instance = _editable(session, instance_id, actor)
    return plan_preview(session, instance, typed(instances.bundle_of(session, instance), submitted))


def change_data(session, instance_id, actor, submitted):
    """Change an instance's data and move every date drawn from it, in one transaction."""
    instance = _editable(session, instance_id, actor)
    bundle, workflow = instances.load(session, instance)
    values = typed(bundle, submitted)
    before = workflows.current_data(workflow)
    changed = {key: value for key, value in values.items() if before.get(key) != value}
    if not changed:
        return instance
    for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):   # also the tasks still to come
        task.data.update(changed)
    history.record(session, instance, "data_changed", user=actor.username,
                   data={"old": plain({key: before.get(key) for key in changed}), "new": plain(changed)})
    moves, writes = redate(session, instance, bundle, workflow, before, changed)
    change = instances.prepare(session, instance, workflow, bundle)
    change.retimed += writes
    change.notices += notifications.for_moved_dates(moves)
    instances.apply(session, change)
    return instance


def redate(session, instance, bundle, workflow, before, changes, completing=None):
    """Move the dates of the open tasks (but `completing`) and waiting timers that read the fields of
    `changes` (their new values; `before` holds the old). Returns the moved tasks as [(row, old, new)] and
    the writes that store their new dates, for the change to run after its instance row (so that two
    changes of one instance queue on that row instead of deadlocking on task rows)."""
    keys = set(changes) & anchors(bundle)
    if not keys:
        return [], []
    data, now, moves, writes = {**workflows.current_data(workflow), **changes}, clock.now(), [], []
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                   HumanTask.state == "open")).all()
    for row in rows:
        step = bundle.steps.get(row.element_id)
        if row.id == completing or step is None or not (reads(step["due"], keys) or reads(step["follow_up"], keys)):
            continue
        old = row.due_at
        try:
            due = deadlines.resolve(step["due"], data, row.created_at)
            follow_up = deadlines.resolve(step["follow_up"], data, row.created_at)
        except Exception as error:  # noqa: BLE001 - a date the new data cannot give keeps the old one
            history.record(session, instance, "deadline_error", row.element_id, row.id,
                           data={"message": str(error)})
            continue
        if (due, follow_up) == (row.due_at, row.follow_up_at):
            continue
        writes += _move(row, due, follow_up, now)
        history.record(session, instance, "due_moved", row.element_id, row.id,
                       data={"old": plain(old), "new": plain(due)})
        moves.append((row, old, due))
    _move_timers(session, instance, workflow, before, changes, keys)
    return moves, writes


_RETIME_TASK = (update(HumanTask.__table__).where(HumanTask.id == bindparam("retimed_id"))
                .values(due_at=bindparam("new_due"), follow_up_at=bindparam("new_follow_up"),
                        next_reminder_at=bindparam("new_reminder"), overdue_sent_at=bindparam("new_overdue_sent")))
_RETIME_CANDIDATES = (update(TaskCandidate.__table__).where(TaskCandidate.task_id == bindparam("retimed_id"))
                      .values(due_at=bindparam("new_due")))


def _move(row, due, follow_up, now):
    """The writes of a task's new dates: its next reminder is the first one still to come, and an overdue
    notice already sent goes out again if the due date moved into the future. The session's row shows
    them at once (without writing it again)."""
    for column, value in (("due_at", due), ("follow_up_at", follow_up)):
        set_committed_value(row, column, value)
    set_committed_value(row, "next_reminder_at", reminders.next_after(row, now))
    if due is None or due > now:
        set_committed_value(row, "overdue_sent_at", None)
    values = {"retimed_id": row.id, "new_due": due, "new_follow_up": follow_up,
              "new_reminder": row.next_reminder_at, "new_overdue_sent": row.overdue_sent_at}
    return [(_RETIME_TASK, values), (_RETIME_CANDIDATES, {"retimed_id": row.id, "new_due": due})]


def _evaluate(expression, data):
    return sandbox.run(juel_to_python(expression), dict(data))


def _move_timers(session, instance, workflow, before, changes, keys):
    """Waiting date, duration and cycle timers whose expression reads `keys` take their new moment."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        kind = type(definition).__name__
        if kind not in ("TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition") \
                or not reads(definition.expression, keys) or task._get_internal_data("event_value") is None:
            continue
        old = task._get_internal_data("event_value")
        if kind == "CycleTimerEventDefinition":
            new = _moved_cycle(old, _evaluate(definition.expression, {**task.data, **changes}))
        elif kind == "TimeDateEventDefinition":
            value = _evaluate(definition.expression, {**task.data, **changes})
            new = value.isoformat() if hasattr(value, "isoformat") else str(value)
        else:
            shift = (_duration(_evaluate(definition.expression, {**task.data, **changes}))
                     - _duration(_evaluate(definition.expression, {**task.data, **before})))
            new = (TimerEventDefinition.get_datetime(old) + shift).isoformat()
        task._set_internal_data(event_value=new)
        history.record(session, instance, "timer_moved", task.task_spec.bpmn_id, str(task.id),
                       data={"old": old, "new": new})


def _moved_cycle(old, expression):
    """A cycle's next firing as its new expression says, with the repetitions it had left."""
    new = cron.first_firing(expression)
    left, cycles = old.get("cycles", new["cycles"]), new["cycles"]
    new["cycles"] = min(left, cycles) if left >= 0 and cycles >= 0 else max(left, cycles)
    return new


def _duration(text):
    return deadlines.parse_duration(str(text))
