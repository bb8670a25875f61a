"""Firing due BPMN timers. The database is the queue: `instances.next_timer_at` says which
instances have a timer due, each is fired in its own transaction, and the instance's optimistic
lock (plus `SKIP LOCKED` on PostgreSQL) makes sure two workers never fire the same timer twice."""
import logging

from sqlalchemy import select

from . import clock, cycle_starts, history, instances, waiting
from .access import internal_actor
from .errors import Conflict
from .models import Instance

log = logging.getLogger("baton.timers")
MAX_ROUNDS = 100  # a cycle timer missed many times fires once per round, oldest first
WORKER = internal_actor("worker")   # who starts the runs of a timer cycle


def due_instances(session, now, limit):
    query = (select(Instance.id).where(Instance.status == "running", Instance.next_timer_at <= now)
             .order_by(Instance.next_timer_at, Instance.id).limit(limit))
    return list(session.scalars(query))


def _lock(session, instance_id):
    """The instance row, locked for this transaction on PostgreSQL; None if another worker holds it."""
    query = select(Instance).where(Instance.id == instance_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def fire_instance(session, instance_id, now):
    """Fire every timer of one instance that is due at `now`; return how many fired."""
    with clock.evaluating_at(now):
        return _fire(session, instance_id, now)


def _fire(session, instance_id, now):
    instance = _lock(session, instance_id)
    if instance is None or instance.status != "running" or not instance.next_timer_at \
            or instance.next_timer_at > now:
        session.rollback()
        return 0
    bundle, workflow = instances.load(session, instance)
    fired, incident, runs = 0, None, 0
    clock_of_a_cycle = instance.started_by == instances.SCHEDULER.username
    for _ in range(MAX_ROUNDS):
        before = waiting.timers(workflow)
        workflow.refresh_timers()
        runs += cycle_starts.take_fired_paths(workflow) if clock_of_a_cycle else 0
        after = waiting.timers(workflow)
        went = [task_id for task_id, due in before.items() if after.get(task_id) != due]
        for task_id in went:   # recorded before what the timer sets off, in the order it happened
            task = workflow.get_task_from_id(task_id)
            history.record(session, instance, "timer_fired", waiting.timer_element(task), str(task_id),
                           data={"due": before[task_id].isoformat() if before[task_id] else None})
        incident = instances.advance(session, instance, bundle, workflow)
        # the engine steps end with a timer refresh of their own: a firing it made has only opened its path
        runs += cycle_starts.take_fired_paths(workflow) if clock_of_a_cycle else 0
        fired += len(went)
        due = waiting.next_timer(workflow)
        if incident or not went or due is None or due > now:
            break
    try:
        instances.commit_change(session, instance, workflow, bundle, incident)
    except Conflict:
        return 0   # another worker or a user changed it first; its next_timer_at is fresh again
    for _ in range(runs):   # after the clock moved on: a firing starts at most one run
        instances.start(session, instance.process_key, {}, WORKER, cycle_fired=True)
    return fired


def fire_due(session, now=None, limit=500):
    """Fire what is due, oldest first; return the number of timers fired. An instance whose change the
    database refuses is logged and skipped: it never holds up the timers of the others."""
    now = now or clock.now()
    fired = 0
    for instance_id in due_instances(session, now, limit):
        try:
            fired += fire_instance(session, instance_id, now)
        except Exception:  # noqa: BLE001 - isolating one instance is the point
            session.rollback()
            log.exception("timers of instance %s could not fire; the others go on", instance_id)
    return fired
