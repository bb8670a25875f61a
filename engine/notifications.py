"""Telling people: a task is ready for you, its deadline is near, it is overdue.

Notifications are written to an outbox table in the same transaction as the change that causes
them, and delivered by the worker: a slow mail server or a dead webhook never blocks the engine,
and a failed delivery is retried with back-off. Channels: in-app (the bell), email over SMTP
(`BATON_SMTP_URL`), and a JSON webhook per role (`BATON_ROLE_WEBHOOKS`, the `{"text": ...}` body
Slack and Teams incoming webhooks accept).
"""
import json
import os
import re
import smtplib
import urllib.request
from datetime import timedelta
from email.message import EmailMessage
from functools import lru_cache
from urllib.parse import unquote, urlparse

from sqlalchemy import bindparam, func, insert, or_, select

from . import clock, driver, history
from .models import HumanTask, Instance, Notification, User, UserRole

MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 30


def reminder_lead():
    return timedelta(hours=float(os.environ.get("BATON_REMINDER_HOURS", 24)))


def manager_role():
    return os.environ.get("BATON_MANAGER_ROLE", "manager").strip().lower()


def role_webhooks():
    """{role: url} from BATON_ROLE_WEBHOOKS (a JSON object)."""
    try:
        hooks = json.loads(os.environ.get("BATON_ROLE_WEBHOOKS", "{}"))
    except json.JSONDecodeError:
        return {}
    return {str(k).strip().lower(): str(v) for k, v in hooks.items()} if isinstance(hooks, dict) else {}


_ACTIVE = select(User.username, User.email).where(User.active.is_(True))
_NAMED = _ACTIVE.where(User.username == bindparam("username"))


@lru_cache(maxsize=16)
def _in_any_of(n_roles):
    """The statement of `_in_roles` for `n_roles` roles (parameters `role0`…)."""
    return _ACTIVE.where(User.id.in_(select(UserRole.user_id).where(
        UserRole.role.in_([bindparam(f"role{n}") for n in range(n_roles)]))))


def _in_roles(session, roles):
    """(username, email) of the active users with one of `roles`."""
    roles = list(roles)
    if not roles:
        return []
    return driver.read(session.connection(), _in_any_of(len(roles)), {f"role{n}": r for n, r in enumerate(roles)})


def owners(session, row):
    """Who a task is for: its claimer, else its assignee, else everyone in its roles."""
    if row.claimed_by or row.assignee:
        return driver.read(session.connection(), _NAMED, {"username": row.claimed_by or row.assignee})
    return _in_roles(session, row.roles)


_QUEUE = insert(Notification.__table__)


def _notices(people, kind, subject, body, row, roles=()):
    """The notification rows of one event: in the app and by email for each person, and the role webhooks."""
    now = clock.now()
    common = {"kind": kind, "subject": subject, "body": body, "instance_id": row.instance_id, "task_id": row.id,
              "attempts": 0, "last_error": None, "created_at": now, "read_at": None}
    notices = []
    for person in people:
        notices.append({**common, "channel": "app", "recipient": person.username, "target": None, "status": "sent",
                        "next_attempt_at": None, "sent_at": now})
        if person.email:
            notices.append({**common, "channel": "email", "recipient": person.username, "target": person.email,
                            "status": "pending", "next_attempt_at": now, "sent_at": None})
    hooks = role_webhooks()
    return notices + [{**common, "channel": "webhook", "recipient": None, "target": hooks[role], "status": "pending",
                       "next_attempt_at": now, "sent_at": None} for role in roles if role in hooks]


def queue(session, notices):
    """Put notification rows in the outbox (in the session's transaction)."""
    if notices:
        driver.write(session.connection(), _QUEUE, notices)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template, data):
    """`Welcome {name}` with the instance data; only plain names, so a template cannot reach attributes."""
    return _PLACEHOLDER.sub(lambda m: str(data.get(m.group(1), "")), template or "")


def email_step(session, instance, element_id, step, data):
    """Queue the email an email step (service or send task) describes; returns the notification."""
    properties = step.get("properties", {})
    notice = Notification(channel="email", kind="email_step", target=fill(properties.get("to"), data).strip(),
                          subject=fill(properties.get("subject") or step["name"], data)[:255],
                          body=fill(properties.get("body"), data), instance_id=instance.id, status="pending",
                          next_attempt_at=clock.now())
    if not notice.target:
        raise ValueError(f"email step {element_id!r} has no recipient (set the `to` property)")
    session.add(notice)
    return notice


def _describe(row):
    label = row.instance_label or f"#{row.instance_id}"
    due = f" Due {row.due_at:%Y-%m-%d %H:%M} UTC." if row.due_at else ""
    return f"{row.name} — {row.process_name} {label}", f"“{row.name}” in {row.process_name} {label}.{due}"


def for_new_task(session, row):
    """The notices of a task that became ready, for the change that creates its row to queue."""
    subject, body = _describe(row)
    return _notices(owners(session, row), "task_ready", f"New task: {subject}", f"Ready for you: {body}", row,
                    row.roles)


def send_reminders(session, now):
    """A reminder before each deadline (at the follow-up date, else BATON_REMINDER_HOURS before)."""
    lead, sent = reminder_lead(), 0
    # the index on (state, due_at) narrows this to tasks due within the lead time, or with a follow-up date
    rows = session.scalars(select(HumanTask).where(
        HumanTask.state == "open", HumanTask.reminder_sent_at.is_(None),
        or_(HumanTask.due_at <= now + lead, HumanTask.follow_up_at <= now))).all()
    for row in rows:
        at = row.follow_up_at or row.due_at - lead
        if at > now or (row.due_at is not None and row.due_at <= now):
            continue   # not yet; or already overdue, where the overdue notice says it all
        subject, body = _describe(row)
        queue(session, _notices(owners(session, row), "reminder", f"Reminder: {subject}", f"Coming up: {body}", row,
                                row.roles))
        row.reminder_sent_at = now
        sent += 1
    session.commit()
    return sent


def mark_overdue(session, now):
    """An overdue notice to the owners and to the manager role when a deadline passes."""
    rows = session.scalars(select(HumanTask).where(HumanTask.state == "open", HumanTask.due_at <= now,
                                                   HumanTask.overdue_sent_at.is_(None))).all()
    for row in rows:
        subject, body = _describe(row)
        managers = [p for p in _in_roles(session, [manager_role()]) if p not in owners(session, row)]
        queue(session, _notices(owners(session, row) + managers, "overdue", f"Overdue: {subject}",
                                f"Overdue: {body}", row, row.roles))
        row.overdue_sent_at = now
        history.record(session, session.get(Instance, row.instance_id), "task_overdue", row.element_id, row.id,
                       data={"due_at": row.due_at.isoformat()})
    session.commit()
    return len(rows)


def _send_email(notification):
    url = urlparse(os.environ.get("BATON_SMTP_URL", ""))
    if url.scheme not in ("smtp", "smtps"):
        raise RuntimeError("BATON_SMTP_URL is not set (smtp://host:port or smtps://user:password@host:port)")
    message = EmailMessage()
    message["From"] = os.environ.get("BATON_MAIL_FROM", "baton@localhost")
    message["To"] = notification.target
    message["Subject"] = notification.subject
    message.set_content(notification.body)
    client_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with client_class(url.hostname, url.port or (465 if url.scheme == "smtps" else 25), timeout=10) as client:
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def _send_webhook(notification):
    body = json.dumps({"text": f"{notification.subject}\n{notification.body}", "kind": notification.kind,
                       "instance_id": notification.instance_id, "task_id": notification.task_id}).encode()
    request = urllib.request.Request(notification.target, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - admin-configured URL
        if response.status >= 300:
            raise RuntimeError(f"webhook answered {response.status}")


SENDERS = {"email": _send_email, "webhook": _send_webhook}


def deliver_pending(session, now, limit=100):
    """Send what is due; a failure is retried later with doubling waits, then marked failed."""
    due = session.scalars(select(Notification).where(Notification.status == "pending",
                                                     Notification.next_attempt_at <= now)
                          .order_by(Notification.id).limit(limit)).all()
    sent = 0
    for notification in due:
        try:
            SENDERS[notification.channel](notification)
        except Exception as error:  # any delivery failure is recorded and retried, never raised
            notification.attempts += 1
            notification.last_error = f"{error.__class__.__name__}: {error}"[:2000]
            if notification.attempts >= MAX_ATTEMPTS:
                notification.status = "failed"
            else:
                notification.next_attempt_at = now + timedelta(seconds=BACKOFF_SECONDS * 2 ** notification.attempts)
        else:
            notification.attempts += 1
            notification.status, notification.sent_at = "sent", now
            sent += 1
        session.commit()
    return sent


def run_due(session, now):
    return {"reminders": send_reminders(session, now), "overdue": mark_overdue(session, now),
            "delivered": deliver_pending(session, now)}


def unread(session, username, limit=20):
    query = select(Notification).where(Notification.recipient == username, Notification.channel == "app",
                                       Notification.read_at.is_(None))
    return session.scalars(query.order_by(Notification.id.desc()).limit(limit)).all()


def unread_count(session, username):
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient == username, Notification.channel == "app", Notification.read_at.is_(None)))


def mark_read(session, username):
    for notification in unread(session, username, limit=1000):
        notification.read_at = clock.now()
    session.commit()
