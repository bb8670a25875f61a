"""The manager's overview: late work and who holds it, work due soon, stalled and failed instances,
and the two actions on a late task: nudge its holder, or hand it to someone else.

Every list reads open task rows (through the partial indexes of open tasks) or the instance index on
(status, updated_at): none grows with the history of completed work."""
import os
from datetime import timedelta

from sqlalchemy import func, literal, select

from .. import history, instances, notifications, tasks, users
from ..access import EVERYONE, may_do
from ..errors import Conflict, Forbidden, Invalid
from ..models import HumanTask, Instance, TaskCandidate
from .visibility import may_manage

LIST_LIMIT = 200          # rows per list on the page and in the API
SOON = timedelta(hours=48)
MAX_STALLED_DAYS = 3660   # ten years: beyond it no date can be counted back


def stalled_days():
    """BATON_STALLED_DAYS: a running instance with no change for this many days counts as stalled."""
    return int(os.environ.get("BATON_STALLED_DAYS", 7))


def owner(row):
    """Who holds a task, as a person reads it: its claimer, else its assignee, else its roles."""
    return row.claimed_by or row.assignee or ", ".join(row.roles or ()) or "everyone"


def task_item(row):
    return {"task_id": row.id, "instance_id": row.instance_id, "process_key": row.process_key,
            "label": row.instance_label, "name": row.name, "owner": owner(row), "due_at": row.due_at,
            "held_since": row.claimed_at or row.created_at}


def _require_manager(actor):
    if not may_manage(actor):
        raise Forbidden("only managers and admins see the overview and act on other people's tasks")


def _open_tasks(*conditions):
    return (select(HumanTask).where(HumanTask.state == "open", HumanTask.due_at.is_not(None), *conditions)
            .order_by(HumanTask.due_at, HumanTask.id).limit(LIST_LIMIT))


def _instance_item(row):
    item = {"instance_id": row.id, "process_key": row.process_key, "label": row.label,
            "started_by": row.started_by, "since": row.updated_at}
    if row.incident:
        item.update(element_id=row.incident.get("element_id"), message=row.incident.get("message"))
    return item


def _by_owner(session, now):
    """Open and overdue counts per person (claimer or assignee) and per role (tasks nobody holds yet)."""
    held = func.coalesce(HumanTask.claimed_by, HumanTask.assignee)
    people = session.execute(
        select(held, literal("person"), func.count(), func.count().filter(HumanTask.due_at <= now))
        .where(HumanTask.state == "open", held.is_not(None)).group_by(held)).all()
    waiting = session.execute(
        select(TaskCandidate.key, literal("role"), func.count(), func.count().filter(TaskCandidate.due_at <= now))
        .where(TaskCandidate.claimed_by.is_(None), TaskCandidate.key.like("role:%") | (TaskCandidate.key == EVERYONE))
        .group_by(TaskCandidate.key)).all()
    rows = [{"owner": name, "kind": kind, "open": count, "overdue": late} for name, kind, count, late in people]
    rows += [{"owner": "everyone" if key == EVERYONE else key.removeprefix("role:"), "kind": kind, "open": count,
              "overdue": late} for key, kind, count, late in waiting]
    return sorted(rows, key=lambda r: (-r["overdue"], -r["open"], r["kind"], r["owner"]))


def overview(session, actor, now, days=None):
    """{"overdue", "due_soon", "stalled", "failed", "by_owner"} as the API and the page show them."""
    _require_manager(actor)
    if days is not None and not 1 <= days <= MAX_STALLED_DAYS:
        message = f"must be a whole number of days from 1 to {MAX_STALLED_DAYS}"
        raise Invalid("stalled_days is out of range", [{"field": "stalled_days", "message": message}])
    quiet_since = now - timedelta(days=days or stalled_days())
    instance_list = select(Instance).order_by(Instance.updated_at, Instance.id).limit(LIST_LIMIT)
    return {
        "overdue": [task_item(r) for r in session.scalars(_open_tasks(HumanTask.due_at <= now))],
        "due_soon": [task_item(r) for r in session.scalars(_open_tasks(HumanTask.due_at > now,
                                                                        HumanTask.due_at <= now + SOON))],
        "stalled": [_instance_item(r) for r in session.scalars(instance_list.where(
            Instance.status == "running", Instance.updated_at <= quiet_since))],
        "failed": [_instance_item(r) for r in session.scalars(instance_list.where(Instance.status == "failed"))],
        "by_owner": _by_owner(session, now),
    }


def who_may_take(session, task_ids):
    """{task id: [usernames]}: the active people each open task may be handed to (the reassign choices)."""
    people = [users.actor(u) for u in users.all_users(session) if u.active]
    keys = dict(session.execute(select(HumanTask.id, HumanTask.candidate_keys).where(HumanTask.id.in_(task_ids))).all())
    return {task_id: [p.username for p in people if may_do(p, task_keys or ())] for task_id, task_keys in keys.items()}


def _open_task(session, task_id, actor):
    _require_manager(actor)
    row = tasks.get(session, task_id)
    if row.state != "open":
        raise Conflict(f"task {row.name!r} is no longer open")
    return row


def nudge(session, task_id, actor):
    """A reminder to the task's holder now, through their channels (the notifications outbox)."""
    row = _open_task(session, task_id, actor)
    notifications.queue(session, notifications.about_task(row, "nudge", f"{actor.username} asks about"))
    history.record(session, instances.get(session, row.instance_id), "task_nudged", row.element_id, row.id,
                   user=actor.username, data={"owner": owner(row)})
    session.commit()
    return row


def assign(session, task_id, username, actor):
    """Hand an open task to `username`, who must be an active user allowed to do it (one of its roles,
    or its assignee): they hold it as if they had claimed it, and are told."""
    row = _open_task(session, task_id, actor)
    user = users.find_active(session, username) if isinstance(username, str) else None
    if user is None:
        raise Invalid("no such active user", [{"field": "user", "message": f"no active user {username!r}"}])
    if not may_do(users.actor(user), tasks.keys_of(row)):
        raise Invalid(f"{user.username} lacks the task's roles",
                      [{"field": "user", "message": f"{user.username} may not do this task "
                                                   f"(it is for: {tasks.who_for(row)})"}])
    tasks.hand_over(session, row, user.username)
    notifications.queue(session, notifications.about_task(row, "task_assigned", f"Handed to you by {actor.username}",
                                                          people=(user.username, ())))
    history.record(session, instances.get(session, row.instance_id), "task_assigned", row.element_id, row.id,
                   user=actor.username, data={"to": user.username})
    session.commit()
    return row
