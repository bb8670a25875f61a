"""Each person's calendar feed (`/calendar/<secret>.ics`): their open tasks with a due date, each with an
alarm a day before. Calendar apps cannot sign in, so the address itself is the key: long, random, shown
to its owner only, and renewed (the old address then stops working) whenever they want."""
import secrets

from sqlalchemy import or_, select

from .. import clock, users
from ..access import EVERYONE
from ..models import CalendarFeed, HumanTask, TaskCandidate, User


def secret_of(session, user):
    """The user's feed secret, made on first use."""
    feed = session.get(CalendarFeed, user.id)
    if feed is None:
        return renew(session, user)
    return feed.secret


def renew(session, user):
    """A new secret for the user's feed; the old address stops working."""
    feed = session.get(CalendarFeed, user.id) or CalendarFeed(user_id=user.id)
    feed.secret, feed.created_at = secrets.token_urlsafe(32), clock.now()
    session.add(feed)
    session.commit()
    return feed.secret


def owner_of(session, secret):
    """The active user whose feed has this secret, or None."""
    return session.scalar(select(User).join(CalendarFeed, CalendarFeed.user_id == User.id)
                          .where(CalendarFeed.secret == secret, User.active.is_(True)))


def due_tasks(session, user):
    """Open tasks with a due date that are the user's: claimed by them, or open to their name or roles
    and claimed by nobody (tasks open to everyone are left out: they would fill every calendar)."""
    actor = users.actor(user)
    theirs = select(TaskCandidate.task_id).where(TaskCandidate.key.in_(sorted(actor.keys - {EVERYONE})))
    return session.scalars(select(HumanTask).where(
        HumanTask.state == "open", HumanTask.due_at.is_not(None),
        or_(HumanTask.claimed_by == user.username, HumanTask.claimed_by.is_(None) & HumanTask.id.in_(theirs)))
        .order_by(HumanTask.due_at, HumanTask.id)).all()


def _text(value):
    """RFC 5545 TEXT: backslash, semicolon, comma and newline escaped."""
    return (value or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line):
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    data, parts = line.encode("utf-8"), []
    while len(data) > 75:
        cut = 75 if not parts else 74
        while (data[cut] & 0xC0) == 0x80:   # never split a UTF-8 character
            cut -= 1
        parts.append(data[:cut])
        data = data[cut:]
    parts.append(data)
    return "\r\n ".join(p.decode("utf-8") for p in parts)


def _stamp(moment):
    return moment.strftime("%Y%m%dT%H%M%SZ")


def feed(session, user, task_url):
    """The iCalendar text; `task_url(task_id)` is the task page's address."""
    now = clock.now()
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Baton//Tasks//EN", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{_text(f'Baton tasks of {user.username}')}"]
    for task in due_tasks(session, user):
        title = f"{task.name} — {task.instance_label}" if task.instance_label else task.name
        lines += ["BEGIN:VEVENT", f"UID:task-{task.id}@baton", f"DTSTAMP:{_stamp(now)}",
                  f"DTSTART:{_stamp(task.due_at)}", f"DTEND:{_stamp(task.due_at)}", f"SUMMARY:{_text(title)}",
                  f"DESCRIPTION:{_text(f'{task.process_name}: {task.name}. Due {task.due_at:%Y-%m-%d %H:%M} UTC.')}",
                  f"URL:{task_url(task.id)}",
                  "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT24H", f"DESCRIPTION:{_text(f'Due tomorrow: {title}')}",
                  "END:VALARM", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
