"""Running SpiffWorkflow workflows safely: create, load, advance, store.

The hazards of the library are handled here, once, for every entry point:
- a deserialised workflow gets a fresh *unsandboxed* script engine: `load` always re-attaches ours;
- task iteration silently stops at depth 1000, so a long-lived loop looked "completed": the
  iterator's depth limit is raised, and a workflow that claims completion without reaching an
  end event is reported as stuck, never as completed;
- a failing condition or script raises out of `do_engine_steps` and leaves a task in ERROR:
  `advance` turns that into an `Incident` naming the element;
- parallel branches meeting again let the last to arrive overwrite every field: `joins` merges
  what each branch changed instead;
- a loop of automatic steps whose condition never turns false would hold a server thread forever:
  `advance` stops after `MAX_STEPS` automatic steps or `MAX_SECONDS` and reports the step it was at.

An instance is stored without its spec (the library's format repeats the whole parsed diagram in
every instance): the engine keeps each definition's parsed specs and hands them to `load`.
"""
import datetime as _dt
import gzip
import json
import time
from dataclasses import dataclass

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG

from . import cycle_starts, event_subprocesses, sandbox, spiff_patches  # noqa: F401 - importing it patches SpiffWorkflow, once

MAX_STEPS = 5_000      # automatic steps one user action may cause
MAX_SECONDS = 10.0



class _PlainMessageConverter(MessageEventDefinitionConverter):
    """The plain BPMN message definition under its own name: the Camunda one shares the class name."""

    def __init__(self, target_class, registry):
        super().__init__(target_class, registry, typename="BpmnMessageEventDefinition")


class _SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """The workflow's tasks, data and subprocesses, without its spec and the specs it calls: those are
    half the bytes of a small instance and most of the time to load it, and they never change."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _serializer(config):
    # SpiffWorkflow's Camunda config has no converter for the plain ServiceTask and the plain message
    # definition (a message start event without Camunda extensions) its parser creates
    config = {ServiceTask: BpmnTaskSpecConverter, MessageEventDefinition: _PlainMessageConverter, **config,
              BpmnWorkflow: _SpecFreeWorkflowConverter}
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(_dt.date, lambda v: {"value": v.isoformat()}, lambda v: _dt.date.fromisoformat(v["value"]))
    return BpmnWorkflowSerializer(registry)


SERIALIZERS = {"camunda": _serializer(CAMUNDA_CONFIG), "spiff": _serializer(SPIFF_CONFIG)}


class Runaway(RuntimeError):
    """Too many automatic steps in a row: almost always a loop whose exit condition never holds."""

    def __init__(self, task, message):
        super().__init__(message)
        self.task = task


def _step_budget():
    steps, deadline = 0, time.monotonic() + MAX_SECONDS

    def count(task):
        nonlocal steps
        steps += 1
        if steps > MAX_STEPS or time.monotonic() > deadline:
            raise Runaway(task, f"stopped after {steps - 1} automatic steps without waiting for anyone: "
                                "does a loop's exit condition ever hold?")
    return count


@dataclass
class Incident:
    """Why an instance stopped: the element and the message an admin needs to fix it."""
    element_id: str | None
    message: str

    def as_dict(self):
        return {"element_id": self.element_id, "message": self.message}


def create(spec, subprocess_specs):
    return BpmnWorkflow(spec, subprocess_specs, script_engine=sandbox.script_engine())


def load(state, dialect, specs):
    """The workflow stored in `state`, run by the process spec and called specs `specs` it was started
    with (instances stored with their spec, as Baton did before, bring their own)."""
    serializer = SERIALIZERS[dialect]
    dct = json.loads(gzip.decompress(state))
    serializer.migrate(dct)
    if "spec" not in dct:
        dct["spec"], dct["subprocess_specs"] = specs   # live objects pass through the restore unchanged
    workflow = serializer.from_dict(dct)
    workflow.script_engine = sandbox.script_engine()
    return workflow


def dump(workflow, dialect):
    return gzip.compress(SERIALIZERS[dialect].serialize_json(workflow).encode(), compresslevel=5)


def run(workflow, task):
    """Complete a person's task; an Incident when its own expressions (a multi-instance completion
    condition, output mappings) fail."""
    try:
        task.run()
    except Exception as error:  # noqa: BLE001 - diagram code raises anything
        return Incident(_failed_element(workflow, error) or task.task_spec.bpmn_id, _describe(error))
    return None


def advance(workflow, on_completed=None, service=None):
    """Run everything automatic; return an Incident if something failed or the workflow is stuck.

    `on_completed(task)` hears of every task the engine completes; `service(task)` handles a service
    task SpiffWorkflow leaves STARTED for the host, returning False when nothing can handle it.
    """
    budget = _step_budget()
    try:
        workflow.do_engine_steps(will_complete_task=budget, did_complete_task=on_completed)
        while waiting_services := waiting_service_tasks(workflow):
            for task in waiting_services:
                try:
                    handled = service is not None and service(task)
                except Exception as error:  # noqa: BLE001 - a misconfigured step stops here, named
                    return Incident(task.task_spec.bpmn_id, _describe(error))
                if not handled:
                    return Incident(task.task_spec.bpmn_id,
                                    "no handler for service task "
                                    f"{task.task_spec.bpmn_name or task.task_spec.bpmn_id!r}"
                                    " (Baton runs service tasks with camunda:type=\"email\")")
                task.complete()
            workflow.do_engine_steps(will_complete_task=budget, did_complete_task=on_completed)
    except Exception as error:  # noqa: BLE001 - scripts and conditions raise arbitrary errors
        return Incident(_failed_element(workflow, error), _describe(error))
    if workflow.is_completed() and not reached_end(workflow):
        return Incident(None, "the workflow stopped without reaching an end event")
    return None


def waiting_service_tasks(workflow):
    """Service tasks SpiffWorkflow left STARTED for the host (not subprocesses or multi-instance parents)."""
    return [t for t in workflow.get_tasks(state=TaskState.STARTED, manual=False)
            if isinstance(t.task_spec, ServiceTaskMixin)]


def reached_end(workflow):
    if cycle_starts.schedule_ended(workflow):
        return True
    return any(isinstance(t.task_spec, EndEvent) and (t.workflow is workflow or event_subprocesses.ran(t, workflow))
               for t in workflow.get_tasks(state=TaskState.COMPLETED))


def human_tasks(workflow):
    """READY tasks waiting for a person, with their element id."""
    return [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id]


def current_data(workflow):
    """The instance's data as people see it: the end data, or the data of the latest ready task."""
    if workflow.is_completed():
        return dict(workflow.data)
    merged = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
        merged.update(task.data)
    return merged


def _failed_element(workflow, error):
    task = getattr(error, "task", None)
    if task is None:
        failed = workflow.get_tasks(state=TaskState.ERROR)
        task = failed[0] if failed else None
    return task.task_spec.bpmn_id if task is not None else None


def _describe(error):
    cause = error.__cause__ or error.__context__ or error
    detail = str(cause) or cause.__class__.__name__
    if cause is not error and str(error) and detail not in str(error):
        return f"{error}: {detail}"
    return str(error) or detail
