"""The audit trail: every state change of an instance appends events in the same transaction.

Events are kept with the session until its transaction commits and are written then, in the order
they were recorded, together with the change's other writes; a rollback drops them with the rest.
"""
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from . import clock, driver
from .models import Event

_APPEND = insert(Event.__table__)
_PENDING = "baton.history.pending"


def record(session, instance, type_, element_id=None, task_id=None, user=None, data=None):
    """Append one event to the instance's trail (the instance row must exist when the session commits)."""
    session.connection()   # begins the transaction if need be: its end, whichever it is, also ends the event
    session.info.setdefault(_PENDING, []).append({
        "instance_id": instance.id, "at": clock.now(), "type": type_, "element_id": element_id, "task_id": task_id,
        "user": user, "data": data})


@event.listens_for(Session, "before_commit")
def write_pending(session):
    """Write the events recorded so far (a change writes them with its other writes; a commit writes
    whatever is left)."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        driver.write(session.connection(), _APPEND, pending)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session, transaction):
    if transaction.parent is None:   # rolled back or closed: its events go with it
        session.info.pop(_PENDING, None)


def events(session, instance_id):
    return session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id)).all()
