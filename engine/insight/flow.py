"""A process version's human steps in the order the flow reaches them: the board's columns and the
analytics' rows. Read from the definition's parsed specs, never from an instance."""
from collections import deque

from sqlalchemy import select

from .. import deadlines, definitions
from ..errors import NotFound
from ..models import MAX_ID, ProcessVersion

WORK_KINDS = ("userTask", "manualTask", "task")   # a start event's form is not a step someone works on


def version_of(session, key, version=None):
    """The ProcessVersion `version` of process `key` (the newest when None), or NotFound."""
    query = select(ProcessVersion).where(ProcessVersion.key == key)
    query = query.where(ProcessVersion.version == version) if version else \
        query.order_by(ProcessVersion.version.desc()).limit(1)
    found = None if version and not 0 < version <= MAX_ID else session.scalar(query)   # beyond any column
    if found is None:
        raise NotFound(f"no process {key!r}" + (f" version {version}" if version else ""))
    return found


def human_steps(session, process_version):
    """[{"element_id", "name", "estimate_s"}] in flow order (breadth first from the start event)."""
    bundle = definitions.bundle_of(session, process_version.definition_id)
    if process_version.key not in bundle.specs:   # a diagram kept as a model only: no flow to follow
        return []
    spec = bundle.specs[process_version.key][0]
    seen, queue, order = set(), deque([spec.start]), []
    while queue:
        task_spec = queue.popleft()
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        step = bundle.steps.get(task_spec.bpmn_id) if task_spec.bpmn_id else None
        if step and step.get("kind") in WORK_KINDS:
            order.append({"element_id": task_spec.bpmn_id, "name": step["name"],
                          "estimate_s": _estimate_seconds(step.get("estimate"))})
        queue.extend(task_spec.outputs)
    return order


def _estimate_seconds(text):
    try:
        return deadlines.parse_duration(text).total_seconds() if text else None
    except ValueError:
        return None   # a malformed estimate shows as none rather than breaking the report


def version_numbers(session, key):
    """The version numbers of process `key`, newest first."""
    return session.scalars(select(ProcessVersion.version).where(ProcessVersion.key == key)
                           .order_by(ProcessVersion.version.desc())).all()
