"""The instance list: filters, text search over label and data, paging, and the current steps of each
row; plus cancelling several instances at once. Visibility is `visibility.visible_instances`."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, cast, false, func, or_, select

from .. import clock, instances
from ..access import require_admin
from ..errors import BatonError
from ..models import MAX_ID, HumanTask, Instance, TaskCandidate
from .overview import owner
from .visibility import visible_instances

STATUSES = ("running", "failed", "completed", "cancelled")


@dataclass
class Filters:
    process: str | None = None
    version: int | None = None
    status: str | None = None
    step: str | None = None            # element id of a current step
    role: str | None = None            # a current step open to this role
    started_by: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None   # exclusive
    overdue: bool = False
    q: str | None = None


def _open_tasks_of(*conditions):
    return select(HumanTask.instance_id).where(HumanTask.state == "open", *conditions)


def _query(actor, filters, now):
    query = select(Instance).where(visible_instances(actor))
    if filters.version is not None and not 0 < filters.version <= MAX_ID:   # no column holds it: none match
        return query.where(false())
    for column, value in ((Instance.process_key, filters.process), (Instance.version, filters.version),
                          (Instance.status, filters.status), (Instance.started_by, filters.started_by)):
        if value not in (None, ""):
            query = query.where(column == value)
    if filters.started_from:
        query = query.where(Instance.created_at >= filters.started_from)
    if filters.started_to:
        query = query.where(Instance.created_at < filters.started_to)
    if filters.step:
        query = query.where(Instance.id.in_(_open_tasks_of(HumanTask.element_id == filters.step)))
    if filters.role:
        query = query.where(Instance.id.in_(_open_tasks_of().join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
                                            .where(TaskCandidate.key == f"role:{filters.role.strip().lower()}")))
    if filters.overdue:
        query = query.where(Instance.id.in_(_open_tasks_of(HumanTask.due_at <= now)))
    if filters.q and filters.q.strip():
        pattern = f"%{filters.q.strip().lower()}%"
        query = query.where(or_(func.lower(Instance.label).like(pattern),
                                func.lower(cast(Instance.data, Text)).like(pattern)))
    return query


def search(session, actor, filters, limit=25, offset=0):
    """(rows, total): one page of the instances `actor` may see that match, newest first; each row is a
    dict as the API gives it, with its current steps."""
    query = _query(actor, filters, clock.now())
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = session.scalars(query.order_by(Instance.id.desc()).limit(limit).offset(offset)).all()
    current = {}
    if page:
        for task in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_([i.id for i in page]),
                                                            HumanTask.state == "open")
                                    .order_by(HumanTask.created_at, HumanTask.id)):
            current.setdefault(task.instance_id, []).append(
                {"task_id": task.id, "element_id": task.element_id, "name": task.name, "owner": owner(task),
                 "due_at": task.due_at})
    return [describe(i, current.get(i.id, [])) for i in page], total


def describe(instance, current):
    return {"id": instance.id, "process_key": instance.process_key, "process_name": instance.process_name,
            "version": instance.version, "label": instance.label, "status": instance.status,
            "started_by": instance.started_by, "created_at": instance.created_at, "ended_at": instance.ended_at,
            "current": current}


def cancel_many(session, instance_ids, actor):
    """Admins: cancel each instance that can be; (cancelled ids, {id: why not})."""
    require_admin(actor, "cancel instances")
    cancelled, refused = [], {}
    for instance_id in instance_ids:
        try:
            instances.cancel(session, instance_id, actor)
            cancelled.append(instance_id)
        except BatonError as error:
            refused[instance_id] = str(error)
    return cancelled, refused
