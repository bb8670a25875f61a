"""Message and signal start events of event subprocesses, triggered from outside.

SpiffWorkflow starts an event subprocess when its workflow catches the event, but a waiting
instance is only found through the catch events it waits on (`event_waits`), and these start
events wait on nothing until triggered. `waits` lists them with the rest; `trigger` hands the event
over and, for an interrupting start event (BPMN's default), cancels everything else the process
was doing, as Camunda does: the event subprocess then finishes the process.
"""
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import EventSubprocess
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.util.task import TaskState

KINDS = {"MessageEventDefinition": "message", "SignalEventDefinition": "signal"}
_update_data = EventSubprocess.update_data


def _starts(workflow):
    """(event subprocess name, start event spec) of every message or signal start event (only running
    instances are ever sent events: messages.py finds them by status)."""
    start = workflow.spec.start
    return [(name, event) for name in getattr(start, "trigger_specs", [])
            for event in workflow.subprocess_specs[name].bpmn_start_events
            if type(event.event_definition).__name__ in KINDS]


def waits(workflow):
    """{(kind, name)} the event subprocesses of `workflow` can be started by."""
    return {(KINDS[type(e.event_definition).__name__], e.event_definition.name) for _, e in _starts(workflow)}


def trigger(workflow, name, data, payload_for):
    """Start the event subprocess whose start event catches `name`, `data` joining its data, with the
    payload `payload_for(event definition)`; return that start event's id, or None when none does."""
    for subprocess_name, event in _starts(workflow):
        if event.event_definition.name == name:
            workflow.send_event(BpmnEvent(event.event_definition, payload=payload_for(event.event_definition)))
            for started in workflow.get_tasks(state=TaskState.READY):
                if started.task_spec is event:
                    started.data.update(data)
            if getattr(event, "interrupting", True):
                _interrupt(workflow, subprocess_name)
            return event.bpmn_id
    return None


def share_data(spec, my_task, subworkflow):
    """What an event subprocess did joins its process's data (Camunda has one variable scope here;
    SpiffWorkflow would keep it in the event subprocess, so a process it ended had no data)."""
    _update_data(spec, my_task, subworkflow)
    my_task.workflow.data.update(my_task.data)



def ran(task, workflow):
    """Whether `task` ran in an event subprocess of `workflow` (its end event ends the process too)."""
    parent = workflow.get_task_from_id(task.workflow.parent_task_id) if task.workflow is not workflow else None
    return parent is not None and isinstance(parent.task_spec, EventSubprocess)


def _interrupt(workflow, subprocess_name):
    """Cancel every unfinished task of the process but the event subprocess just started (and what
    follows it)."""
    for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        if task.workflow is workflow and not task.has_state(TaskState.FINISHED_MASK) \
                and not _within(task, subprocess_name):
            task.cancel()


def _within(task, subprocess_name):
    while task is not None:
        if isinstance(task.task_spec, EventSubprocess) and task.task_spec.name == subprocess_name:
            return True
        task = task.parent
    return False
