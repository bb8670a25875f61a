"""Who sees which instances: the one rule every list, search, page and API call asks.

Admins and holders of the manager role (`BATON_MANAGER_ROLE`) see everything, tasks claimed by others
included: the tasks someone sits on are the ones a manager must find. Everyone else sees the instances
they take part in: those they started, acted on, or hold an open task they may do."""
from sqlalchemy import exists, or_, select, true

from ..models import Event, HumanTask, Instance, TaskCandidate
from ..notifications import manager_role


def sees_all(actor):
    return actor.admin or manager_role() in actor.roles


def may_manage(actor):
    """Nudging and reassigning other people's work: the same people who see all of it."""
    return sees_all(actor)


def visible_instances(actor, instance_id=Instance.id, started_by=Instance.started_by):
    """A SQL condition on an instance's id and starter: the instances `actor` may see."""
    if sees_all(actor):
        return true()
    acted = select(Event.instance_id).where(Event.user == actor.username)
    may_act = (select(HumanTask.instance_id).join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
               .where(TaskCandidate.key.in_(sorted(actor.keys)),   # open tasks only have candidate rows
                      or_(TaskCandidate.claimed_by.is_(None), TaskCandidate.claimed_by == actor.username)))
    return or_(started_by == actor.username, instance_id.in_(acted), instance_id.in_(may_act))


def may_see_instance(session, instance, actor):
    if sees_all(actor) or instance.started_by == actor.username:
        return True
    return session.scalar(select(exists().where(Instance.id == instance.id, visible_instances(actor))))
