"""Delivering messages and signals from outside (an ebook download, a payment received) to the
instances waiting for them. They merge data into other people's instances, so only admins and
accounts with the `integration` role (the systems that send them) may. `event_waits` finds the
candidates without loading every instance; a message goes to the instances whose data matches its
correlation, a signal to every waiter."""
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from sqlalchemy import select

from . import event_starts, event_subprocesses, history, instances, waiting
from .data import plain
from .errors import Conflict, Forbidden, Invalid, NotFound
from .models import EventWait, Instance


def _waiters(session, kind, name):
    ids = select(EventWait.instance_id).where(EventWait.kind == kind, EventWait.name == name)
    return session.scalars(select(Instance).where(Instance.id.in_(ids), Instance.status == "running")
                           .order_by(Instance.id)).all()


def _matches(instance, correlation):
    # a key the instance does not have matches nothing, not even a null: `{"no_such_key": null}` went to all
    return all(key in instance.data and instance.data[key] == value for key, value in correlation.items())


def _payload(event_definition, data):
    """Camunda-flavoured message definitions keep the data under one name too."""
    return {"payload": data, "result_var": "last_message"} if hasattr(event_definition, "result_var") else data


def _deliver_to(session, instance, kind, name, data, actor_name):
    bundle, workflow = instances.load(session, instance)
    task, event_definition = waiting.catching(workflow, name)
    if task is None:   # none waits: an event subprocess may start on it (event_subprocesses.py)
        element_id = event_subprocesses.trigger(workflow, name, data, lambda definition: _payload(definition, data))
        if element_id is None:  # the projection was stale; nothing to do for this one
            session.rollback()
            return False
    else:
        task.data.update(data)   # message data joins the instance data
        workflow.send_event(BpmnEvent(event_definition, payload=_payload(event_definition, data)))
        element_id = waiting.catch_element(task, event_definition)
    history.record(session, instance, f"{kind}_received", element_id,
                   user=actor_name, data={"name": name, "data": plain(data)})
    instances.commit_change(session, instance, workflow, bundle, instances.advance(session, instance, bundle, workflow))
    return True


INTEGRATION_ROLE = "integration"


def _check(actor, name, correlation, data):
    if not actor.has_role(INTEGRATION_ROLE):
        raise Forbidden(f"{actor.username} may not send messages or signals "
                        f"(admins and the {INTEGRATION_ROLE!r} role may)")
    errors = []
    if not isinstance(name, str) or not name.strip():
        errors.append({"field": "name", "message": "must be a non-empty string"})
    for key, value in (("correlation", correlation), ("data", data)):
        if not isinstance(value, dict):
            errors.append({"field": key, "message": "must be an object"})
    if errors:
        raise Invalid("invalid event", errors)


def deliver(session, actor, name, correlation=None, data=None):
    """Deliver message `name` to the waiting instances whose data matches `correlation`; return their ids."""
    correlation, data = correlation or {}, data or {}
    _check(actor, name, correlation, data)
    targets = [i for i in _waiters(session, "message", name) if _matches(i, correlation)]
    if not targets:   # a message start event starts an instance; its correlation values identify it later
        started = event_starts.start_on_message(session, actor, name, lambda instance: _deliver_to(
            session, instance, "message", name, {**correlation, **data}, actor.username))
        if started:
            return started
        raise NotFound(f"no running instance is waiting for message {name!r}"
                       + (f" with correlation {correlation}" if correlation else ""))
    if not correlation:
        targets = targets[:1]   # an uncorrelated message goes to one waiter, the oldest
    return [i.id for i in targets if _deliver_to(session, i, "message", name, data, actor.username)]


def relay(session, name, thrower_id):
    """A signal instance `thrower_id` threw, to every other instance waiting for it (signal_relay.py);
    one that changed meanwhile misses it rather than failing the thrower's change."""
    for instance in _waiters(session, "signal", name):
        if instance.id != thrower_id:
            try:
                _deliver_to(session, instance, "signal", name, {}, None)
            except Conflict:
                session.rollback()


def broadcast(session, actor, name, data=None):
    """Throw signal `name` to every instance waiting for it; return their ids."""
    data = data or {}
    _check(actor, name, {}, data)
    targets = _waiters(session, "signal", name)
    if not targets:
        raise NotFound(f"no running instance is waiting for signal {name!r}")
    return [i.id for i in targets if _deliver_to(session, i, "signal", name, data, actor.username)]
