"""What a workflow waits for, projected into indexed columns: the next timer due time
(`instances.next_timer_at`) and the messages and signals it can catch (`event_waits`).

SpiffWorkflow's timers read `datetime.now()` themselves; they are pointed at `engine.clock`
here so that tests pass time in instead of sleeping, and so every part of Baton agrees on "now".
"""
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from sqlalchemy import bindparam, delete, insert

from . import clock, driver, event_subprocesses
from .models import EventWait

TIMER_TYPES = {"TimerEventDefinition", "TimeDateEventDefinition", "DurationTimerEventDefinition",
               "CycleTimerEventDefinition"}
CATCH_KINDS = {"MessageEventDefinition": "message", "SignalEventDefinition": "signal"}


class ClockedDatetime(datetime):
    """`datetime` whose `now()` is Baton's clock (aware UTC when asked for a zone)."""

    @classmethod
    def now(cls, tz=None):
        moment = clock.now().replace(tzinfo=UTC)
        return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)



def as_naive_utc(value):
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    moment = TimerEventDefinition.get_datetime(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).replace(tzinfo=None)


def _waiting(workflow):
    """(task, event definition) for every waiting catch, with event-based gateways and multiple
    events opened up (SpiffWorkflow keeps their definitions inside one MultipleEventDefinition)."""
    for task in list(workflow.event_manager.tasks.values()):
        for item in _items(task):
            yield task, item


def _items(task):
    definition = task.task_spec.event_definition
    return getattr(definition, "event_definitions", None) or [definition]


def catch_element(task, item):
    """The id of the element that catches `item`. An event-based gateway waits on behalf of the catch
    events after it: SpiffWorkflow moves their definitions onto the gateway, in the order of its outputs."""
    spec = task.task_spec
    if isinstance(spec, EventBasedGateway):
        for index, candidate in enumerate(_items(task)):
            if candidate is item and index < len(spec.outputs):
                return spec.outputs[index].bpmn_id
    return spec.bpmn_id


def timer_element(task):
    """The id of the timer event a waiting task stands for."""
    return next((catch_element(task, item) for item in _items(task) if type(item).__name__ in TIMER_TYPES),
                task.task_spec.bpmn_id)


def timers(workflow):
    """task id → due time (naive UTC) of every waiting timer; a cycle timer's due time moves as it fires."""
    return {task.id: as_naive_utc(task.internal_data.get("event_value"))
            for task, item in _waiting(workflow) if type(item).__name__ in TIMER_TYPES}


def next_timer(workflow):
    """The earliest due time of the workflow's waiting timers, or None."""
    due = [d for d in timers(workflow).values() if d is not None]
    return min(due) if due else None


def catchable(workflow):
    """{(kind, name)} of messages and signals the workflow is waiting for."""
    return {(CATCH_KINDS[type(item).__name__], item.name) for _, item in _waiting(workflow)
            if type(item).__name__ in CATCH_KINDS} | event_subprocesses.waits(workflow)


def catching(workflow, name):
    """The waiting task and event definition that catch `name`, or (None, None)."""
    return next(((task, item) for task, item in _waiting(workflow) if getattr(item, "name", None) == name),
                (None, None))


def waits(workflow):
    """[[kind, name]] of the messages and signals the workflow waits for, in order (the instance's
    `waits` column: the event_waits rows are rewritten only when it changes)."""
    return [[kind, name] for kind, name in sorted(catchable(workflow))]


_FORGET = delete(EventWait.__table__).where(EventWait.instance_id == bindparam("instance_id"))
_WAIT = insert(EventWait.__table__)


def write(session, instance_id, waits):
    """Make the event_waits rows of an instance say `waits`."""
    connection = session.connection()
    driver.write(connection, _FORGET, {"instance_id": instance_id})
    if waits:
        driver.write(connection, _WAIT, [{"instance_id": instance_id, "kind": kind, "name": name}
                                         for kind, name in waits])
