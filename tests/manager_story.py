"""A history of known durations for the manager's views, built with the fake clock.

Process `manager_review` ("Blog post"): Write the draft (role writer, due 1 day after it is ready,
estimate 4 h) → Review the draft (role designer, due 8 h) → approved? else back to the draft.

Version 1, week of Mon 2 Nov 2026:
  A (mia, Mon 09:00): draft claimed +1 h, done +3 h; review done +5 h unclaimed, rejected; draft again
    claimed +6 h, done +10 h; review claimed +12 h, done +20 h (2 h late), approved. Cycle 20 h.
  B (mia, Tue 09:00): draft done +30 h unclaimed (6 h late); review claimed +31 h, done +33 h. Cycle 33 h.
Week of Mon 9 Nov: C (walt, 09:00) draft claimed by walt at 10:00; D (mia, 09:00) draft untouched.
Version 2 deployed Mon 9 Nov 09:30: E (mia, 10:00) draft done by wendy 11:00, review by dora 12:00 (cycle 2 h);
  F (mia, Tue 10 Nov 13:00) draft open, due Wed 13:00. A run of `needs_data` fails (started by the operator).
Now: Wed 11 Nov 09:00. C's and D's drafts are overdue since Tue 09:00; F's is due in 4 h.
"""
from datetime import datetime, timedelta
from types import SimpleNamespace

from conftest import OPERATOR, diagram
from sqlalchemy import select
from test_security_sandbox import script_diagram

from engine import clock, definitions, instances, tasks
from engine.models import HumanTask

T0 = datetime(2026, 11, 2, 9, 0)
NOW = datetime(2026, 11, 11, 9, 0)
HOUR = timedelta(hours=1)


def open_task(session, instance_id):
    session.expire_all()
    return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.state == "open"))


def build(session, people):
    """Play the story; leaves the clock frozen at NOW (the caller holds `clock.frozen_at`)."""
    walt, wendy, dora, mia = (people[n] for n in ("walt", "wendy", "dora", "mia"))
    at = clock.travel

    def start(who, title, topic="launch"):
        return instances.start(session, "manager_review", {"title": title, "topic": topic}, who).id

    def step(instance_id, who, claim_at=None, done_at=None, data=None):
        task_id = open_task(session, instance_id)
        if claim_at:
            at(claim_at)
            tasks.claim(session, task_id, who)
        if done_at:
            at(done_at)
            tasks.complete(session, task_id, who, data or {})
        return task_id

    at(T0 - HOUR)
    definitions.deploy(session, [("manager_review.bpmn", diagram("manager_review.bpmn"))], OPERATOR)
    at(T0)
    a = start(mia, "Autumn sale", "discounts for loyal customers")
    step(a, walt, T0 + HOUR, T0 + 3 * HOUR)
    step(a, dora, None, T0 + 5 * HOUR, {"approved": False})
    step(a, walt, T0 + 6 * HOUR, T0 + 10 * HOUR)
    step(a, dora, T0 + 12 * HOUR, T0 + 20 * HOUR, {"approved": True})
    t1 = T0 + 24 * HOUR
    at(t1)
    b = start(mia, "Black Friday")
    step(b, walt, None, t1 + 30 * HOUR)
    step(b, dora, t1 + 31 * HOUR, t1 + 33 * HOUR, {"approved": True})
    t2 = T0 + 7 * 24 * HOUR
    at(t2)
    c = start(walt, "Christmas teaser")
    d = start(mia, "December newsletter")
    at(t2 + HOUR / 2)
    definitions.deploy(session, [("manager_review.bpmn", diagram("manager_review.bpmn") + b"<!-- v2 -->")],
                       OPERATOR)
    c_draft = step(c, walt, t2 + HOUR)
    e = start(mia, "Event invitation")
    step(e, wendy, None, t2 + 2 * HOUR)
    step(e, dora, None, t2 + 3 * HOUR, {"approved": True})
    at(t2 + 28 * HOUR)
    f = start(mia, "February webinar")
    definitions.deploy(session, [("needs.bpmn", script_diagram("needs_data", "total = amount * rate"))], OPERATOR)
    failed = instances.start(session, "needs_data", {"amount": 2}, OPERATOR).id
    at(NOW)
    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e, f=f, failed=failed, c_draft=c_draft,
                           d_draft=open_task(session, d), f_draft=open_task(session, f))
