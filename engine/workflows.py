"""Running SpiffWorkflow workflows safely: create, load, advance, store.

Three hazards of the library are handled here, once, for every entry point:
- a deserialised workflow gets a fresh *unsandboxed* script engine: `load` always re-attaches ours;
- task iteration silently stops at depth 1000, so a long-lived loop looked "completed": the
  iterator's depth limit is raised, and a workflow that claims completion without reaching an
  end event is reported as stuck, never as completed;
- a failing condition or script raises out of `do_engine_steps` and leaves a task in ERROR:
  `advance` turns that into an `Incident` naming the element.
"""
import datetime as _dt
import gzip
from dataclasses import dataclass

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, ServiceTask
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskIterator

from . import sandbox

MAX_TREE_DEPTH = 1_000_000


def _raise_depth_limit(cls):
    defaults = list(cls.__init__.__defaults__)
    defaults[defaults.index(1000)] = MAX_TREE_DEPTH
    cls.__init__.__defaults__ = tuple(defaults)


_raise_depth_limit(TaskIterator)
_raise_depth_limit(BpmnTaskIterator)


def _serializer(config):
    # SpiffWorkflow's Camunda config has no converter for the plain ServiceTask its parser creates
    config = {ServiceTask: BpmnTaskSpecConverter, **config}
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(_dt.date, lambda v: {"value": v.isoformat()}, lambda v: _dt.date.fromisoformat(v["value"]))
    return BpmnWorkflowSerializer(registry)


SERIALIZERS = {"camunda": _serializer(CAMUNDA_CONFIG), "spiff": _serializer(SPIFF_CONFIG)}


@dataclass
class Incident:
    """Why an instance stopped: the element and the message an admin needs to fix it."""
    element_id: str | None
    message: str

    def as_dict(self):
        return {"element_id": self.element_id, "message": self.message}


def create(spec, subprocess_specs):
    return BpmnWorkflow(spec, subprocess_specs, script_engine=sandbox.script_engine())


def load(state, dialect):
    workflow = SERIALIZERS[dialect].deserialize_json(gzip.decompress(state))
    workflow.script_engine = sandbox.script_engine()
    return workflow


def dump(workflow, dialect):
    return gzip.compress(SERIALIZERS[dialect].serialize_json(workflow).encode(), compresslevel=5)


def advance(workflow, on_completed=None, service=None):
    """Run everything automatic; return an Incident if something failed or the workflow is stuck.

    `on_completed(task)` hears of every task the engine completes; `service(task)` handles a service
    task SpiffWorkflow leaves STARTED for the host, returning False when nothing can handle it.
    """
    try:
        workflow.do_engine_steps(did_complete_task=on_completed)
        while waiting_services := workflow.get_tasks(state=TaskState.STARTED, manual=False):
            for task in waiting_services:
                try:
                    handled = service is not None and service(task)
                except Exception as error:  # a misconfigured step stops here, named
                    return Incident(task.task_spec.bpmn_id, _describe(error))
                if not handled:
                    return Incident(task.task_spec.bpmn_id,
                                    f"no handler for service task {task.task_spec.bpmn_name or task.task_spec.bpmn_id!r}"
                                    " (Baton runs service tasks with camunda:type=\"email\")")
                task.complete()
            workflow.do_engine_steps(did_complete_task=on_completed)
    except Exception as error:  # scripts and conditions raise arbitrary errors
        return Incident(_failed_element(workflow, error), _describe(error))
    if workflow.is_completed() and not reached_end(workflow):
        return Incident(None, "the workflow stopped without reaching an end event")
    return None


def reached_end(workflow):
    return any(isinstance(t.task_spec, EndEvent) and t.workflow is workflow
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
    cause = error.__cause__ or error
    detail = str(cause) or cause.__class__.__name__
    if cause is not error and str(error) and detail not in str(error):
        return f"{error}: {detail}"
    return str(error) or detail
