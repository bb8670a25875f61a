"""Processes started by a timer cycle (`R/P7D`, `R3/PT1H`): each firing starts a new instance.

A process whose start event is a timer is kept as one waiting "clock" instance (see
`instances.start_scheduled`). SpiffWorkflow runs every firing of a cycle start event as another path
inside that one workflow, so a weekly newsletter would pile its runs, their data and their history into
a single instance. Camunda and SpiffArena start a new instance per firing; so does Baton: the paths a
firing opens in the clock are cancelled there, and a run starts in their place, its start event
already fired. The clock ends when the cycle's repetitions are used up.
"""
from datetime import UTC, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from . import clock


def _cycle_starts(workflow):
    return [task for task in workflow.get_tasks(spec_class=StartEvent)
            if isinstance(getattr(task.task_spec, "event_definition", None), CycleTimerEventDefinition)]


def take_fired_paths(workflow):
    """Cancel the paths the cycle start event's latest firings opened; return how many runs to start."""
    runs = 0
    for start in _cycle_starts(workflow):
        for path in [child for child in start.children if child.has_state(TaskState.NOT_FINISHED_MASK)]:
            path.cancel()
            runs += 1
    return runs


def fire_start(workflow):
    """Make the cycle start event of a fresh run's workflow fire once, now, and no more: one repetition
    left, due a second ago. (The start event itself completes at the worker's next pass, once it sees
    its repetitions used up; its one path runs at once.)"""
    due = (clock.now() - timedelta(seconds=1)).replace(tzinfo=UTC).isoformat()
    for start in _cycle_starts(workflow):
        start._set_internal_data(event_value={"cycles": 1, "next": due, "duration": 0.0})


def schedule_ended(workflow):
    """Whether a clock's cycle used up its repetitions: its paths ran elsewhere, so it ends with no end event."""
    return any(start.has_state(TaskState.COMPLETED) for start in _cycle_starts(workflow))
