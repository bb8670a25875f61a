"""The audit trail: every state change of an instance appends an event in the same transaction."""
from sqlalchemy import select

from . import clock
from .models import Event


def record(session, instance, type_, element_id=None, task_id=None, user=None, data=None):
    session.add(Event(instance_id=instance.id, at=clock.now(), type=type_, element_id=element_id,
                      task_id=task_id, user=user, data=data))


def events(session, instance_id):
    return session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id)).all()
