"""Human tasks: what a person may see and do, claiming, and completing with form data.

Lists read the `human_tasks`/`task_candidates` tables only. Completing deserialises the one
instance concerned and commits through `instances.commit_change`.
"""
import uuid

from SpiffWorkflow import TaskState
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from . import clock, forms, history, instances, workflows
from .access import may_do
from .data import plain
from .errors import Conflict, Forbidden, Invalid, NotFound
from .models import HumanTask, TaskCandidate

TABS = ("mine", "roles", "all")


_TASK = select(HumanTask).options(joinedload(HumanTask.candidates)).where(HumanTask.id == bindparam("task_id"))


def get(session, task_id):
    """The task row with its candidates, in one read."""
    row = session.execute(_TASK, {"task_id": str(task_id)}).unique().scalar_one_or_none()
    if row is None:
        raise NotFound(f"no task {task_id}")
    return row


def keys_of(row):
    return {c.key for c in row.candidates}


def may_see(actor, row):
    return may_do(actor, keys_of(row))


def _check_open(actor, row):
    if not may_see(actor, row):
        raise Forbidden(f"{actor.username} may not do task {row.name!r} (it is for: {who_for(row)})")
    if row.state != "open":
        raise Conflict(f"task {row.name!r} is no longer open (it was {row.state}"
                       + (f" by {row.completed_by})" if row.completed_by else ")"))
    if row.claimed_by and row.claimed_by != actor.username:
        raise Conflict(f"task {row.name!r} is claimed by {row.claimed_by}")


def who_for(row):
    if row.assignee:
        return row.assignee
    return ", ".join(row.roles) or "everyone"


def open_query(actor, tab="all", process_key=None, role=None, search=None):
    """Open tasks this actor may do: claimed by nobody else; `mine` = claimed by or assigned to me."""
    query = select(HumanTask).where(HumanTask.state == "open")
    if tab == "mine":
        query = query.where(or_(HumanTask.claimed_by == actor.username, HumanTask.assignee == actor.username))
    else:
        query = query.where(or_(HumanTask.claimed_by.is_(None), HumanTask.claimed_by == actor.username))
        if not (actor.admin and tab == "all"):
            query = query.where(_for_any_of(_role_keys(actor) if tab == "roles" else actor.keys))
    if process_key:
        query = query.where(HumanTask.process_key == process_key)
    if role:
        query = query.where(_for_any_of({f"role:{role}"}))
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(HumanTask.name.ilike(pattern), HumanTask.instance_label.ilike(pattern),
                                HumanTask.process_name.ilike(pattern)))
    return query


def _role_keys(actor):
    """The `roles` tab leaves out the tasks open to everyone."""
    return actor.keys - {"*"}


def _for_any_of(keys, task_id=HumanTask.id):
    """Tasks with one of these candidate keys, as a non-correlated IN: SQLite reads the candidate rows of
    these few keys and looks their open tasks up in `ix_human_tasks_open_visible`; PostgreSQL may instead
    probe them while it walks the open tasks in inbox order."""
    return task_id.in_(select(TaskCandidate.task_id).where(TaskCandidate.key.in_(keys)))


def open_page(session, actor, tab="all", limit=50, offset=0, **filters):
    """One page of `open_query`, sorted by due date (none last), then age, then id: the order of
    `ix_human_tasks_open_order`, so PostgreSQL can stop after the page."""
    return session.scalars(open_query(actor, tab, **filters).order_by(
        HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
        .limit(limit).offset(offset)).all()


def open_for(session, actor, tab="all", limit=50, offset=0, **filters):
    """(tasks, total): one page and the size of `tab` (the inbox, showing every tab, uses `counts`)."""
    total = session.scalar(select(func.count()).select_from(open_query(actor, tab, **filters).subquery()))
    return open_page(session, actor, tab, limit, offset, **filters), total


def counts(session, actor, **filters):
    """The size of each tab in one query and one pass over the `all` tab, since each count reads every
    task the actor may see: `roles` is the part of `all` with a key other than everyone's (also for admins,
    whose `all` skips the keys), `mine` a lookup by name."""
    everything = open_query(actor, "all", **filters).subquery()
    mine = select(func.count()).select_from(open_query(actor, "mine", **filters).subquery()).scalar_subquery()
    row = session.execute(select(mine, func.count().filter(_for_any_of(_role_keys(actor), everything.c.id)),
                                 func.count()).select_from(everything)).one()
    return dict(zip(TABS, row))


def claim(session, task_id, actor):
    row = get(session, task_id)
    _check_open(actor, row)
    _take(session, row, actor, "claim")
    history.record(session, instances.get(session, row.instance_id), "task_claimed", row.element_id, row.id,
                   user=actor.username)
    session.commit()
    session.refresh(row)
    return row


def _held_by_nobody_else():
    return (HumanTask.id == bindparam("task_id"), HumanTask.state == "open",
            or_(HumanTask.claimed_by.is_(None), HumanTask.claimed_by == bindparam("actor")))


_TAKERS = {"claim": update(HumanTask.__table__).where(*_held_by_nobody_else()).values(claimed_by=bindparam("actor")),
           "complete": update(HumanTask.__table__).where(*_held_by_nobody_else()).values(
               state="completed", completed_at=bindparam("at"), completed_by=bindparam("actor"))}


def _take(session, row, actor, how):
    """Claim or complete an open task only if nobody else holds it: the database decides, not what this
    session read earlier, so a claim or completion racing ours makes ours a Conflict."""
    at = clock.now()
    changed = session.connection().execute(_TAKERS[how], {"task_id": row.id, "actor": actor.username,
                                                          "at": at}).rowcount
    if not changed:
        session.rollback()
        raise Conflict(f"task {row.name!r} was claimed or finished by someone else meanwhile")
    taken = {"claimed_by": actor.username} if how == "claim" else \
        {"state": "completed", "completed_at": at, "completed_by": actor.username}
    for column, value in taken.items():
        set_committed_value(row, column, value)


def unclaim(session, task_id, actor):
    row = get(session, task_id)
    if not may_see(actor, row):
        raise Forbidden(f"{actor.username} may not do task {row.name!r} (it is for: {who_for(row)})")
    if row.state != "open":
        raise Conflict(f"task {row.name!r} is no longer open")
    if row.claimed_by is None:
        raise Conflict(f"task {row.name!r} is not claimed")
    if row.claimed_by != actor.username and not actor.admin:
        raise Forbidden(f"task {row.name!r} is claimed by {row.claimed_by}; only they or an admin may release it")
    changed = session.execute(update(HumanTask).where(HumanTask.id == row.id, HumanTask.claimed_by == row.claimed_by)
                              .values(claimed_by=None).execution_options(synchronize_session=False)).rowcount
    if not changed:
        session.rollback()
        raise Conflict(f"task {row.name!r} changed meanwhile")
    history.record(session, instances.get(session, row.instance_id), "task_unclaimed", row.element_id, row.id,
                   user=actor.username)
    session.commit()
    session.refresh(row)
    return row


def complete(session, task_id, actor, data):
    """Validate `data` against the task's form, run the task and everything automatic after it."""
    row = get(session, task_id)
    _check_open(actor, row)
    instance = instances.get(session, row.instance_id)
    if instance.status != "running":
        raise Conflict(f"instance {instance.id} is {instance.status}")
    bundle, workflow = instances.load(session, instance)
    task = workflow.get_task_from_id(uuid.UUID(row.id))
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"task {row.name!r} is no longer ready")
    values, errors = forms.validate(row.form, data if data is not None else {}, task.data)
    if errors:
        raise Invalid("the form has errors", errors)
    task.data.update(values)
    history.record(session, instance, "task_completed", row.element_id, row.id, user=actor.username,
                   data=plain(values))
    change = instances.prepare(session, instance, workflow, bundle, workflows.run(workflow, task) or
                               instances.advance(session, instance, bundle, workflow), completing=row.id)
    _take(session, row, actor, "complete")   # the race with another claim or completion is decided here
    return instances.apply(session, change)


def describe(row, actor=None):
    return {"id": row.id, "instance_id": row.instance_id, "process_key": row.process_key,
            "process_name": row.process_name, "instance_label": row.instance_label, "element_id": row.element_id,
            "name": row.name, "lane": row.lane, "roles": row.roles, "assignee": row.assignee,
            "claimed_by": row.claimed_by, "state": row.state, "created_at": row.created_at, "due_at": row.due_at,
            "documentation": row.documentation, "form": row.form,
            "may_do": may_see(actor, row) if actor else None}
