"""Where an instance has been: completed and active elements and the flows taken, for the diagram view.

SpiffWorkflow records no sequence flows, so flows are derived from parent→child pairs of
completed tasks and matched to the diagram's flows by their source and target.
"""
from SpiffWorkflow import TaskState
from sqlalchemy import select

from . import instances
from .models import HumanTask

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def of(session, instance):
    bundle = instances.bundle_of(session, instance)
    workflow = instances.stored_workflow(bundle, instance)
    completed, pairs = set(), set()
    for task in workflow.get_tasks():
        element = task.task_spec.bpmn_id
        if element and task.state == TaskState.COMPLETED:
            completed.add(element)
            parent = _nearest_element(task.parent)
            if parent:
                pairs.add((parent, element))
    failed = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.ERROR) if t.task_spec.bpmn_id}
    active = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                     HumanTask.state == "open")).all()
    active_ids = {a.element_id for a in active}
    flows = [flow for flow, source, target, into_join in _flows(bundle) if (source, target) in pairs
             or (source in completed and (target in active_ids or (into_join and target in completed)))]
    return {"completed": sorted(completed), "failed": sorted(failed), "flows": sorted(set(flows)),
            "active": [{"element_id": a.element_id, "roles": a.roles, "assignee": a.assignee} for a in active]}


def _nearest_element(task):
    while task is not None and not task.task_spec.bpmn_id:
        task = task.parent
    return task.task_spec.bpmn_id if task is not None else None


def _flows(bundle):
    """(flow id, source, target, whether the target is a joining gateway) for every sequence flow.

    A join has one parent task in SpiffWorkflow, so its other incoming flows are known taken only
    because both ends completed."""
    for document in bundle.diagrams:
        joins = {g.get("id") for tag in ("parallelGateway", "inclusiveGateway")
                 for g in document.root.iter(f"{BPMN}{tag}")}
        for flow in document.root.iter(f"{BPMN}sequenceFlow"):
            yield flow.get("id"), flow.get("sourceRef"), flow.get("targetRef"), flow.get("targetRef") in joins
