"""Telling people: a task is ready for you, its deadline is near, it is overdue.

Notifications are written to an outbox table in the same transaction as the change that causes
them, and delivered by the worker: a slow mail server or a dead webhook never blocks the engine,
and a failed delivery is retried with back-off. Channels: in-app (the bell), email over SMTP
(`BATON_SMTP_URL`), and a JSON webhook per role (`BATON_ROLE_WEBHOOKS`, the `{"text": ...}` body
Slack and Teams incoming webhooks accept).
"""
import json
import logging
import os
import re
import smtplib
import ssl
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from functools import lru_cache
from urllib.parse import unquote, urlparse

from sqlalchemy import Integer, String, bindparam, cast, func, insert, literal, null, or_, select, union_all, update
from sqlalchemy.orm.attributes import set_committed_value

from . import calendars, clock, driver, history, lengths, reminders
from .models import HumanTask, Instance, Notification, User, UserRole

log = logging.getLogger("baton.notifications")
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 30


def manager_role():
    return os.environ.get("BATON_MANAGER_ROLE", "manager").strip().lower()


def role_webhooks():
    """{role: url} from BATON_ROLE_WEBHOOKS (a JSON object)."""
    try:
        hooks = json.loads(os.environ.get("BATON_ROLE_WEBHOOKS", "{}"))
    except json.JSONDecodeError:
        return {}
    return {str(k).strip().lower(): str(v) for k, v in hooks.items()} if isinstance(hooks, dict) else {}


_COLUMNS = ("channel", "kind", "recipient", "target", "subject", "body", "instance_id", "task_id", "status",
            "attempts", "last_error", "created_at", "read_at", "next_attempt_at", "sent_at")
_TABLE = Notification.__table__


def _value(name, column):
    return bindparam(name, type_=_TABLE.c[column].type)


def _none(column):
    """A typed NULL: PostgreSQL takes an untyped one in a UNION for text."""
    return cast(null(), _TABLE.c[column].type)


def _for_people(channel, condition):
    """The rows of one channel for the active people matching `condition`: in the app (already there:
    `sent`), or by email for those with an address (`pending`, for the worker)."""
    now, in_app = _value("now", "created_at"), channel == "app"
    row = {"channel": literal(channel, String), "kind": _value("kind", "kind"), "recipient": User.username,
           "target": _none("target") if in_app else User.email, "subject": _value("subject", "subject"),
           "body": _value("body", "body"), "instance_id": _value("instance_id", "instance_id"),
           "task_id": _value("task_id", "task_id"), "status": literal("sent" if in_app else "pending", String),
           "attempts": literal(0, Integer), "last_error": _none("last_error"), "created_at": now,
           "read_at": _none("read_at"), "next_attempt_at": _none("next_attempt_at") if in_app else now,
           "sent_at": now if in_app else _none("sent_at")}
    people = select(*(row[column] for column in _COLUMNS)).where(User.active.is_(True), condition)
    return people if in_app else people.where(User.email.is_not(None), User.email != "")


@lru_cache(maxsize=32)
def _to_people(named, n_roles):
    """The write queuing one event's notices for people, chosen by the database: the active user called
    `username` (if `named`) and those with one of the roles `role0`… The people are not read first: no round
    trip before the change's writes, and a role of a thousand people is one statement, not a thousand rows."""
    chosen = [User.username == bindparam("username")] if named else []
    if n_roles:
        chosen.append(User.id.in_(select(UserRole.user_id).where(
            UserRole.role.in_([bindparam(f"role{n}") for n in range(n_roles)]))))
    condition = or_(*chosen)
    return insert(_TABLE).from_select(_COLUMNS, union_all(_for_people("app", condition),
                                                          _for_people("email", condition)))


def owners(row):
    """Who a task is for, as (username, roles): its claimer, else its assignee, else everyone in its roles."""
    named = row.claimed_by or row.assignee
    return (named, ()) if named else (None, tuple(row.roles))


_QUEUE = insert(_TABLE)


def _notices(people, kind, subject, body, row, roles=()):
    """The writes queuing the notifications of one event: in the app and by email for each of `people`
    ((username or None, roles), see `owners`), and one per role webhook; as (statement, values) pairs."""
    named, people_roles = people
    now = clock.now()
    common = {"kind": kind, "subject": lengths.fit(subject, Notification.subject), "body": body,
              "instance_id": row.instance_id, "task_id": row.id}
    writes = []
    if named or people_roles:
        writes.append((_to_people(bool(named), len(people_roles)),
                       {**common, "now": now, **({"username": named} if named else {}),
                        **{f"role{n}": role for n, role in enumerate(people_roles)}}))
    hooks = role_webhooks()
    webhooks = [{**common, "channel": "webhook", "recipient": None, "target": hooks[role], "status": "pending",
                 "attempts": 0, "last_error": None, "created_at": now, "read_at": None, "next_attempt_at": now,
                 "sent_at": None} for role in roles if role in hooks]
    return writes + ([(_QUEUE, webhooks)] if webhooks else [])


def queue(session, notices):
    """Put notifications in the outbox (in the session's transaction): the writes `_notices` made."""
    for statement, values in notices:
        driver.write(session.connection(), statement, values)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template, data):
    """`Welcome {name}` with the instance data; only plain names, so a template cannot reach attributes."""
    return _PLACEHOLDER.sub(lambda m: str(data.get(m.group(1), "")), template or "")


def email_step(session, instance, element_id, step, data):
    """Queue the email an email step (service or send task) describes; returns the notification."""
    properties = step.get("properties", {})
    notice = Notification(channel="email", kind="email_step", target=fill(properties.get("to"), data).strip(),
                          subject=lengths.fit(fill(properties.get("subject") or step["name"], data),
                                              Notification.subject),
                          body=fill(properties.get("body"), data), instance_id=instance.id, status="pending",
                          next_attempt_at=clock.now())
    if not notice.target:
        raise ValueError(f"email step {element_id!r} has no recipient (set the `to` property)")
    if lengths.too_long(notice.target, Notification.target):
        raise ValueError(f"email step {element_id!r}: the recipient is longer than "
                         f"{lengths.limit(Notification.target)} characters")
    session.add(notice)
    return notice


def _describe(row):
    label = row.instance_label or f"#{row.instance_id}"
    due = f" Due {row.due_at:%Y-%m-%d %H:%M} UTC." if row.due_at else ""
    return f"{row.name} — {row.process_name} {label}", f"“{row.name}” in {row.process_name} {label}.{due}"


def for_new_task(session, row):
    """The notices of a task that became ready, for the change that creates its row to queue."""
    subject, body = _describe(row)
    if reminders.folded(row, row.created_at):
        body += " The due date is close: this is also your reminder."
    return _notices(owners(row), "task_ready", f"New task: {subject}", f"Ready for you: {body}", row,
                    row.roles)


def about_task(row, kind, heading, people=None):
    """The notices of a manager's action on an open task, through each person's channels: a nudge to its
    holders (`owners`, and the role webhooks), or a hand-over to `people` ((username, ()))."""
    subject, body = _describe(row)
    return _notices(people or owners(row), kind, f"{heading}: {subject}", f"{heading}: {body}", row,
                    () if people else row.roles)


def _when(moment):
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "no date"


def for_moved_dates(moves):
    """The notices of one change that moved due dates, [(row, old, new)]: one per owner, naming every
    step of theirs that moved with its old and new date."""
    by_owner = {}
    for row, old, new in moves:
        by_owner.setdefault(owners(row), []).append((row, old, new))
    writes = []
    for people, moved in by_owner.items():
        first = moved[0][0]
        subject, _ = _describe(first)
        body = "\n".join(f"“{row.name}” was due {_when(old)}, now due {_when(new)}." for row, old, new in moved)
        writes += _notices(people, "date_moved", f"Date moved: {subject}", body, first, first.roles)
    return writes


def send_reminders(session, now):
    """The reminders whose moment has come (see `engine.reminders`); one per task and run, however many
    moments a stopped worker missed, and none once the task is overdue (the overdue notice says it all)."""
    sent = 0
    calendars.keep_fresh(session)   # the next reminder of each is counted in working hours
    rows = session.scalars(select(HumanTask).where(HumanTask.state == "open", HumanTask.next_reminder_at <= now)).all()
    for row in rows:
        with each_alone(session, row):
            if not _claimed(session, row, HumanTask.next_reminder_at == row.next_reminder_at,
                            next_reminder_at=reminders.next_after(row, now)):
                continue   # another worker sent this reminder
            if row.due_at is not None and row.due_at <= now:
                continue
            subject, body = _describe(row)
            queue(session, _notices(owners(row), "reminder", f"Reminder: {subject}", f"Coming up: {body}", row,
                                    row.roles))
            row.reminder_sent_at = now
            sent += 1
    return sent


def _claimed(session, row, still, **values):
    """Set `values` on the task row if `still` holds: whichever worker changes the row first sends its
    notices (on PostgreSQL the other's UPDATE waits, then finds the condition gone)."""
    done = session.execute(update(HumanTask).where(HumanTask.id == row.id, still).values(**values)
                           .execution_options(synchronize_session=False)).rowcount == 1
    for name, value in values.items() if done else ():
        set_committed_value(row, name, value)   # the row object says what the table now holds
    return done


@contextmanager
def each_alone(session, row):
    """One task's notices in their own transaction: a row the database refuses is logged and skipped
    (and tried again next pass), and never stops the notices of everyone else."""
    task_id = row.id
    try:
        yield
        session.commit()
    except Exception:  # noqa: BLE001 - isolating one row is the point
        session.rollback()
        log.exception("notices of task %s could not be queued; the others go on", task_id)


def mark_overdue(session, now):
    """An overdue notice to the owners and to the manager role when a deadline passes."""
    rows = session.scalars(select(HumanTask).where(HumanTask.state == "open", HumanTask.due_at <= now,
                                                   HumanTask.overdue_sent_at.is_(None))).all()
    marked = 0
    for row in rows:
        with each_alone(session, row):
            if not _claimed(session, row, HumanTask.overdue_sent_at.is_(None), overdue_sent_at=now):
                continue   # another worker said it
            subject, body = _describe(row)
            named, roles = owners(row)
            queue(session, _notices((named, (*roles, manager_role())), "overdue", f"Overdue: {subject}",
                                    f"Overdue: {body}", row, row.roles))
            history.record(session, session.get(Instance, row.instance_id), "task_overdue", row.element_id, row.id,
                           data={"due_at": row.due_at.isoformat()})
            marked += 1
    return marked


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
            if url.scheme == "smtp":   # never a password in plain text: STARTTLS, or refuse (the server lacks it)
                client.starttls(context=ssl.create_default_context())
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def _send_webhook(notification):
    body = json.dumps({"text": _slack_text(f"{notification.subject}\n{notification.body}"), "kind": notification.kind,
                       "instance_id": notification.instance_id, "task_id": notification.task_id}).encode()
    request = urllib.request.Request(notification.target, data=body, method="POST",  # noqa: S310 - admin-configured URL
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - admin-configured URL
        if response.status >= 300:
            raise RuntimeError(f"webhook answered {response.status}")


def _slack_text(text):
    """Titles and names are people's text, not markup: Slack reads `<!channel>` as a ping and
    `<https://evil|Open>` as a disguised link. Its escaping rule is these three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SENDERS = {"email": _send_email, "webhook": _send_webhook}


def _next_due(now):
    """The oldest notice due for delivery, locked for this transaction on PostgreSQL and passed over by
    the other workers (SKIP LOCKED), so two workers never send the same email twice."""
    return (select(Notification).where(Notification.status == "pending", Notification.next_attempt_at <= now)
            .order_by(Notification.id).limit(1).with_for_update(skip_locked=True))


def deliver_pending(session, now, limit=100):
    """Send what is due, one notice per transaction; a failure is retried later with doubling waits, then
    marked failed."""
    sent = 0
    for _ in range(limit):
        notification = session.scalar(_next_due(now))
        if notification is None:
            break
        try:
            SENDERS[notification.channel](notification)
        except Exception as error:  # noqa: BLE001 - any delivery failure is recorded and retried, never raised
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
    return session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()


def of_person(session, username, limit=100):
    """A person's in-app notices, read or not, newest first."""
    query = select(Notification).where(Notification.recipient == username, Notification.channel == "app")
    return session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()


def unread_count(session, username):
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.recipient == username, Notification.channel == "app", Notification.read_at.is_(None)))


def mark_read(session, username):
    for notification in unread(session, username, limit=1000):
        notification.read_at = clock.now()
    session.commit()
