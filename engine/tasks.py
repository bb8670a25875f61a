"""Human tasks: what a person may see and do, claiming, and completing with form data.

Lists read the `human_tasks`/`task_candidates` tables only. Completing deserialises the one
instance concerned and commits through `instances.commit_change`.
"""
import uuid
from functools import lru_cache

from SpiffWorkflow import TaskState
from sqlalchemy import bindparam, distinct, func, or_, select, text, true, union, update
from sqlalchemy.orm.attributes import set_committed_value

from . import clock, driver, files, forms, history, instances, notifications, workflows
from .access import EVERYONE, may_do
from .data import MAX_INT, plain
from .errors import Conflict, Forbidden, Invalid, NotFound
from .insight.visibility import sees_all
from .models import CLAIMED, SHARED, SINGLE, HumanTask, InboxCount, Instance, TaskCandidate, fetch
from .plan import anchor as plan_anchor

TABS = ("mine", "roles", "all")


def get(session, task_id):
    return fetch(session, HumanTask, str(task_id), "task")


_WITH_INSTANCE = (select(HumanTask, Instance).join(Instance, Instance.id == HumanTask.instance_id)
                  .where(HumanTask.id == bindparam("task_id")))


def get_with_instance(session, task_id):
    """(task row, its instance) in one read: completing a task needs both."""
    found = session.execute(_WITH_INSTANCE, {"task_id": str(task_id)}).one_or_none()
    if found is None:
        raise NotFound(f"no task {task_id}")
    return found


def keys_of(row):
    return set(row.candidate_keys or ())


def may_see(actor, row):
    return may_do(actor, keys_of(row))


def _require_may_do(actor, row):
    if not may_see(actor, row):
        raise Forbidden(f"{actor.username} may not do task {row.name!r} (it is for: {who_for(row)})")


def _check_open(actor, row):
    _require_may_do(actor, row)
    if row.state != "open":
        raise Conflict(f"task {row.name!r} is no longer open (it was {row.state}"
                       + (f" by {row.completed_by})" if row.completed_by else ")"))
    if row.claimed_by and row.claimed_by != actor.username:
        raise Conflict(f"task {row.name!r} is claimed by {row.claimed_by}")


def who_for(row):
    if row.assignee:
        return row.assignee
    return ", ".join(row.roles) or "everyone"


def _mine(username):
    return or_(HumanTask.claimed_by == username, HumanTask.assignee == username)


def open_query(actor, tab="all", process_key=None, role=None, search=None):
    """Open tasks this actor may do: claimed by nobody else; `mine` = claimed by or assigned to me."""
    query = select(HumanTask).where(HumanTask.state == "open")
    if tab == "mine":
        query = query.where(_mine(actor.username))
    elif not (tab == "all" and sees_all(actor)):   # managers and admins see every open task, claimed or not
        query = query.where(_claimable_by(actor.username),
                            _for_any_of(_role_keys(actor) if tab == "roles" else actor.keys))
    if process_key:
        query = query.where(HumanTask.process_key == process_key)
    if role:
        query = query.where(_for_any_of({f"role:{role}"}))
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(HumanTask.name.ilike(pattern), HumanTask.instance_label.ilike(pattern),
                                HumanTask.process_name.ilike(pattern)))
    return query


def _claimable_by(username, claimed_by=HumanTask.claimed_by):
    return or_(claimed_by.is_(None), claimed_by == username)


def _role_keys(actor):
    """The `roles` tab leaves out the tasks open to everyone."""
    return actor.keys - {EVERYONE}


def _for_any_of(keys, task_id=HumanTask.id):
    """Tasks with one of these candidate keys, as a non-correlated IN."""
    return task_id.in_(select(TaskCandidate.task_id).where(TaskCandidate.key.in_(keys)))


def _from_own_keys(actor, tab, filters):
    """Whether the tab is a plain inbox of the actor's keys, read from `task_candidates` alone: what a
    person sees unfiltered (filters, `mine` and an admin's `all` take the general query)."""
    return tab in ("roles", "all") and not any(filters.values()) and not (sees_all(actor) and tab == "all")


def _claimable():
    """Claimed by nobody, or by the person asking (the `me` parameter of the prepared statements)."""
    return or_(TaskCandidate.claimed_by.is_(None), TaskCandidate.claimed_by == bindparam("me"))


def _inbox_order(due_at, created_at, task_id):
    """Due date (none last), then age, then id."""
    return due_at.is_(None), due_at, created_at, task_id


def _key_params(actor, keys):
    """The parameters of a statement prepared for `len(keys)` keys."""
    return {**{f"key{n}": key for n, key in enumerate(keys)}, "me": actor.username}


_HUMAN_TASK_ORDER = _inbox_order(HumanTask.due_at, HumanTask.created_at, HumanTask.id)


@lru_cache(maxsize=32)
def _merged_page(n_keys):
    """The prepared statement of `_page_of_own_keys` for `n_keys` keys (parameters `key0`…, `me`,
    `reach`, `limit`, `offset`)."""
    ranges = [select(TaskCandidate.task_id, TaskCandidate.due_at, TaskCandidate.created_at)
              .where(TaskCandidate.key == bindparam(f"key{n}"), _claimable())
              .order_by(*_inbox_order(TaskCandidate.due_at, TaskCandidate.created_at, TaskCandidate.task_id))
              .limit(bindparam("reach")).subquery() for n in range(n_keys)]
    merged = union(*(select(r) for r in ranges)).subquery()   # UNION: a task under two keys counts once
    page = (select(merged.c.task_id).order_by(*_inbox_order(merged.c.due_at, merged.c.created_at, merged.c.task_id))
            .limit(bindparam("limit")).offset(bindparam("offset")).subquery())
    return select(HumanTask).join(page, HumanTask.id == page.c.task_id).order_by(*_HUMAN_TASK_ORDER)


def _page_of_own_keys(session, actor, tab, limit, offset):
    """One page merged from the inbox-ordered ranges of the actor's keys in `ix_task_candidates_inbox`:
    each range is read only as far as the page reaches, however many tasks the actor may see."""
    keys = sorted(_role_keys(actor) if tab == "roles" else actor.keys)
    return session.scalars(_merged_page(len(keys)), {**_key_params(actor, keys), "reach": min(offset + limit, MAX_INT),
                                                     "limit": limit, "offset": offset}).all()


def open_page(session, actor, tab="all", limit=50, offset=0, **filters):
    """One page of the tab, sorted by due date (none last), then age, then id."""
    if _from_own_keys(actor, tab, filters):
        return _page_of_own_keys(session, actor, tab, limit, offset)
    return session.scalars(open_query(actor, tab, **filters).order_by(*_HUMAN_TASK_ORDER)
                           .limit(limit).offset(offset)).all()


def open_for(session, actor, tab="all", limit=50, offset=0, **filters):
    """(tasks, total): one page and the size of `tab`."""
    if tab not in TABS:
        raise Invalid(f"no tab {tab!r}", [{"field": "tab", "message": f"must be one of {', '.join(TABS)}"}])
    return open_page(session, actor, tab, limit, offset, **filters), counts(session, actor, **filters)[tab]


@lru_cache(maxsize=32)
def _own_counts(n_keys):
    """The prepared statement of what the tab sizes of a person with `n_keys` keys (`key0`…, `me`) add up:
    open tasks assigned to or claimed by them; the counted single-key tasks of their keys (of their roles
    and name, and of everyone too); those of them claimed by someone else; the tasks shared by several of
    their keys that nobody else holds. Each part reads a handful of rows, however many tasks are open."""
    keys = [bindparam(f"key{n}") for n in range(n_keys)]
    mine = select(func.count()).select_from(HumanTask).where(HumanTask.state == "open", _mine(bindparam("me")))
    counted = (select(func.sum(InboxCount.open_tasks).filter(InboxCount.key != EVERYONE).label("roles"),
                      func.sum(InboxCount.open_tasks).label("all"))
               .where(InboxCount.key.in_(keys)).subquery())
    held_by_others = (select(func.count().filter(TaskCandidate.key != EVERYONE).label("roles"),
                             func.count().label("all"))
                      .where(TaskCandidate.key.in_(keys), text(CLAIMED), text(SINGLE),
                             TaskCandidate.claimed_by != bindparam("me")).subquery())
    shared = (select(func.count(distinct(TaskCandidate.task_id)))
              .where(TaskCandidate.key.in_(keys), text(SHARED), _claimable()).scalar_subquery())
    return select(mine.scalar_subquery(), counted.c.roles, counted.c.all, held_by_others.c.roles,
                  held_by_others.c.all, shared).select_from(counted).join(held_by_others, true())


def counts(session, actor, **filters):
    """The size of each tab. Unfiltered, a person's `roles` and `all` add up the counts kept per key
    (`_own_counts`); filtered, they count what the general query finds; `mine` is a lookup by name."""
    if _from_own_keys(actor, "all", filters):
        keys = sorted(actor.keys)
        mine, roles, everything, roles_held, all_held, shared = \
            session.execute(_own_counts(len(keys)), _key_params(actor, keys)).one()
        row = mine, (roles or 0) - roles_held + shared, (everything or 0) - all_held + shared
    else:
        mine = select(func.count()).select_from(open_query(actor, "mine", **filters).subquery()).scalar_subquery()
        everything = open_query(actor, "all", **filters).subquery()
        in_roles = func.count().filter(_for_any_of(_role_keys(actor), everything.c.id),
                                       _claimable_by(actor.username, everything.c.claimed_by))
        row = session.execute(select(mine, in_roles, func.count()).select_from(everything)).one()
    return dict(zip(TABS, row))


def claim(session, task_id, actor):
    row = get(session, task_id)
    _check_open(actor, row)
    _claim(session, row, actor)
    history.record(session, instances.get(session, row.instance_id), "task_claimed", row.element_id, row.id,
                   user=actor.username)
    session.commit()
    session.refresh(row)
    return row


def _held_by_nobody_else():
    return (HumanTask.id == bindparam("task_id"), HumanTask.state == "open",
            or_(HumanTask.claimed_by.is_(None), HumanTask.claimed_by == bindparam("actor")))


_TAKERS = {"claim": update(HumanTask.__table__).where(*_held_by_nobody_else()).values(claimed_by=bindparam("actor"),
                                                                                       claimed_at=bindparam("at")),
           "complete": update(HumanTask.__table__).where(*_held_by_nobody_else()).values(
               state="completed", completed_at=bindparam("at"), completed_by=bindparam("actor"))}


_CLAIM_CANDIDATES = (update(TaskCandidate.__table__).where(TaskCandidate.task_id == bindparam("claimed_task"))
                     .values(claimed_by=bindparam("claimer")))


def _set_claimer(session, task_id, claimer):
    """The inbox's copy of who holds a task."""
    session.connection().execute(_CLAIM_CANDIDATES, {"claimed_task": task_id, "claimer": claimer})
    instances.forget_shown(session)


def _taking(row, actor, how, at):
    """The write that claims or completes an open task only if nobody else holds it: the database decides,
    not what this session read earlier, so a claim or completion racing ours makes ours a Conflict."""
    return instances.Guard(_TAKERS[how], {"task_id": row.id, "actor": actor.username, "at": at},
                           f"task {row.name!r} was claimed or finished by someone else meanwhile")


def _taken(row, actor, how, at):
    """The session's task object as the take left the row."""
    taken = ({"claimed_by": actor.username, "claimed_at": at} if how == "claim" else
             {"state": "completed", "completed_at": at, "completed_by": actor.username})
    for column, value in taken.items():
        set_committed_value(row, column, value)


def _claim(session, row, actor):
    at = clock.now()
    guard = _taking(row, actor, "claim", at)
    if not driver.write(session.connection(), guard.statement, guard.values):
        session.rollback()
        raise Conflict(guard.conflict)
    _set_claimer(session, row.id, actor.username)
    _taken(row, actor, "claim", at)


_HAND_OVER = (update(HumanTask.__table__).where(HumanTask.id == bindparam("task_id"), HumanTask.state == "open")
              .values(claimed_by=bindparam("holder"), claimed_at=bindparam("at")))


def hand_over(session, row, username):
    """Make `username` the holder of open task `row`, as if they had claimed it (a manager's reassignment;
    the caller checked that they may do it). Conflict if the task closed meanwhile."""
    at = clock.now()
    if not driver.write(session.connection(), _HAND_OVER, {"task_id": row.id, "holder": username, "at": at}):
        session.rollback()
        raise Conflict(f"task {row.name!r} is no longer open")
    _set_claimer(session, row.id, username)
    for column, value in (("claimed_by", username), ("claimed_at", at)):
        set_committed_value(row, column, value)


def unclaim(session, task_id, actor):
    row = get(session, task_id)
    _require_may_do(actor, row)
    if row.state != "open":
        raise Conflict(f"task {row.name!r} is no longer open")
    if row.claimed_by is None:
        raise Conflict(f"task {row.name!r} is not claimed")
    if row.claimed_by != actor.username and not actor.admin:
        raise Forbidden(f"task {row.name!r} is claimed by {row.claimed_by}; only they or an admin may release it")
    changed = session.execute(update(HumanTask).where(HumanTask.id == row.id, HumanTask.claimed_by == row.claimed_by)
                              .values(claimed_by=None, claimed_at=None)
                              .execution_options(synchronize_session=False)).rowcount
    if not changed:
        session.rollback()
        raise Conflict(f"task {row.name!r} changed meanwhile")
    _set_claimer(session, row.id, None)
    history.record(session, instances.get(session, row.instance_id), "task_unclaimed", row.element_id, row.id,
                   user=actor.username)
    session.commit()
    session.refresh(row)
    return row


def complete(session, task_id, actor, data):
    """Validate `data` against the task's form, run the task and everything automatic after it."""
    row, instance = get_with_instance(session, task_id)
    _check_open(actor, row)
    if instance.status != "running":
        raise Conflict(f"instance {instance.id} is {instance.status}")
    bundle, workflow = instances.load(session, instance)
    task = workflow.get_task_from_id(uuid.UUID(row.id))
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"task {row.name!r} is no longer ready")
    values, errors = forms.validate(row.form, data if data is not None else {}, task.data)
    if errors:
        raise Invalid("the form has errors", errors)
    values = files.keep(session, instance, row.id, row.form, values, actor)
    before = dict(task.data)
    task.data.update(values)
    history.record(session, instance, "task_completed", row.element_id, row.id, user=actor.username,
                   data=plain(values))
    incident = workflows.run(workflow, task) or instances.advance(session, instance, bundle, workflow)
    moved, retimed = plan_anchor.redate(session, instance, bundle, workflow, before,   # the form moved a date
                                        {key: value for key, value in values.items() if before.get(key) != value},
                                        completing=row.id)
    change = instances.prepare(session, instance, workflow, bundle, incident, completing=row.id)
    change.retimed += retimed
    change.notices += notifications.for_moved_dates(moved)
    at = clock.now()
    change.guards.append(_taking(row, actor, "complete", at))   # the race with another claim or completion
    instances.apply(session, change)   # is decided there; the task's candidate rows go with the change
    _taken(row, actor, "complete", at)
    return instance


def describe(row, actor=None):
    return {"id": row.id, "instance_id": row.instance_id, "process_key": row.process_key,
            "process_name": row.process_name, "instance_label": row.instance_label, "element_id": row.element_id,
            "name": row.name, "lane": row.lane, "roles": row.roles, "assignee": row.assignee,
            "claimed_by": row.claimed_by, "state": row.state, "created_at": row.created_at, "due_at": row.due_at,
            "documentation": row.documentation, "form": row.form, "item": row.item,
            "may_do": may_see(actor, row) if actor else None}
