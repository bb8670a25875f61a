"""Working-day calendars and time off, kept by admins.

A calendar names the working days and hours and the public holidays (edited on the admin page or
imported from an `.ics` file). The default calendar is what `working_days(n)` counts in diagram code
and what moves a planned date off a day nobody works: to the working day before it when the date is
counted back from an anchor (an expression such as `publish_date - days(5)`), to the one after it
otherwise (a duration from when the step opened). A due date that names a day without a time (a date
field, `publish_date - days(5)`) is due at the end of that working day (`day_ends`), the time a team
reads "due Thursday" as. With no default calendar every day is a working day and a day-only due date
means its midnight, so due dates are calendar days until an admin says otherwise. A reminder counted back
from a due date that would arrive outside working hours arrives at the nearest working moment before
the due date (`workdays.in_working_hours`). Time off is the days a person is away: claiming or being
given a task due then warns.
"""
import re
import time
from datetime import date, timedelta

from sqlalchemy import select

from . import sandbox, workdays
from .access import require_admin
from .errors import Invalid, NotFound
from .models import Calendar, Holiday, TimeOff, User

FRESH_SECONDS = 30   # how long a process counts with the default calendar it read before reading it again
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_loaded = {}   # database URL → (monotonic time read, the default calendar as `workdays` takes it)


def as_workdays(calendar):
    return {"weekdays": sorted(calendar.working_days),
            "holidays": sorted(holiday.day.isoformat() for holiday in calendar.holidays),
            "day_starts": calendar.day_starts, "day_ends": calendar.day_ends}


def keep_fresh(session):
    """Count with this database's default calendar (read again at most every FRESH_SECONDS): every change
    of an instance starts here, so its due dates and its diagram code agree on the working days."""
    url = str(session.get_bind().url)
    read_at, calendar = _loaded.get(url, (None, None))
    if read_at is None or time.monotonic() - read_at > FRESH_SECONDS:
        default = session.scalar(select(Calendar).where(Calendar.is_default.is_(True)))
        calendar = as_workdays(default) if default is not None else workdays.EVERY_DAY
        _loaded[url] = (time.monotonic(), calendar)
    sandbox.use_calendar(calendar)
    return calendar


def active():
    """The working days this process counts with (see `keep_fresh`)."""
    return sandbox.current_calendar()


def describe(calendar):
    return {"id": calendar.id, "name": calendar.name, "default": calendar.is_default,
            "working_days": sorted(calendar.working_days), "day_starts": calendar.day_starts,
            "day_ends": calendar.day_ends,
            "holidays": [{"day": h.day.isoformat(), "name": h.name} for h in calendar.holidays]}


def all_calendars(session):
    return session.scalars(select(Calendar).order_by(Calendar.name)).all()


def get(session, name):
    calendar = session.scalar(select(Calendar).where(Calendar.name == name))
    if calendar is None:
        raise NotFound(f"no calendar {name!r}")
    return calendar


def _day(value, field, errors):
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except (TypeError, ValueError):
        errors.append({"field": field, "message": "must be a date (YYYY-MM-DD)"})
        return None


def _checked(body):
    """The calendar's values from `body`, or Invalid naming every bad field."""
    errors, name = [], str(body.get("name") or "").strip()
    if not name or len(name) > 120:
        errors.append({"field": "name", "message": "give a name of at most 120 characters"})
    days = body.get("working_days", [1, 2, 3, 4, 5])
    if not isinstance(days, list) or not days or not all(isinstance(d, int) and 1 <= d <= 7 for d in days):
        errors.append({"field": "working_days", "message": "list the working days as numbers, Monday = 1 … Sunday = 7"})
    hours = {key: str(body.get(key) or default) for key, default in (("day_starts", "09:00"), ("day_ends", "17:00"))}
    errors += [{"field": key, "message": "must be a time (HH:MM)"} for key, value in hours.items()
               if not _HOURS.match(value)]
    if all(_HOURS.match(value) for value in hours.values()) and hours["day_ends"] <= hours["day_starts"]:
        errors.append({"field": "day_ends", "message": "the working day must end after it starts"})
    holidays = {}
    for n, item in enumerate(body.get("holidays") or []):
        day = _day(item.get("day") if isinstance(item, dict) else None, f"holidays[{n}].day", errors)
        if day:
            holidays[day] = str(item.get("name") or "Holiday").strip()[:255]
    if errors:
        raise Invalid("the calendar has errors", errors)
    return name, sorted(set(days)), hours, holidays


def save(session, actor, body):
    """Create or replace the calendar named in `body` (its holidays too); with `default`, it becomes the
    default calendar."""
    require_admin(actor, "keep calendars")
    name, days, hours, holidays = _checked(body)
    calendar = session.scalar(select(Calendar).where(Calendar.name == name)) or Calendar(name=name)
    calendar.working_days, calendar.day_starts, calendar.day_ends = days, hours["day_starts"], hours["day_ends"]
    kept = {holiday.day: holiday for holiday in calendar.holidays}   # changed in place: a day stays one row
    for day, holiday in kept.items():
        if day not in holidays:
            calendar.holidays.remove(holiday)
    for day, title in sorted(holidays.items()):
        if day in kept:
            kept[day].name = title
        else:
            calendar.holidays.append(Holiday(day=day, name=title))
    if body.get("default"):
        for other in session.scalars(select(Calendar).where(Calendar.is_default.is_(True), Calendar.name != name)):
            other.is_default = False
        calendar.is_default = True
    session.add(calendar)
    session.commit()
    _loaded.pop(str(session.get_bind().url), None)
    return calendar


def read_ics(data):
    """{day: name} of the all-day events of an `.ics` file (each day of a multi-day event)."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    text = re.sub(r"\n[ \t]", "", text)   # unfold continued lines
    found = {}
    for event in re.findall(r"BEGIN:VEVENT\n(.*?)END:VEVENT", text, re.S):
        fields = {}
        for line in event.split("\n"):
            key, _, value = line.partition(":")
            fields.setdefault(key.split(";")[0].upper(), value.strip())
        start = re.match(r"(\d{4})(\d{2})(\d{2})", fields.get("DTSTART", ""))
        if not start:
            continue
        first = date(*map(int, start.groups()))
        end = re.match(r"(\d{4})(\d{2})(\d{2})", fields.get("DTEND", ""))
        last = date(*map(int, end.groups())) - timedelta(days=1) if end else first
        for n in range(max((last - first).days, 0) + 1):
            found[first + timedelta(days=n)] = (fields.get("SUMMARY") or "Holiday").replace("\\,", ",")[:255]
    return found


def import_ics(session, actor, name, data):
    """Add the holidays of an `.ics` file to calendar `name`; returns how many days were added."""
    require_admin(actor, "keep calendars")
    calendar = get(session, name)
    days = read_ics(data)
    if not days:
        raise Invalid("no holidays found", [{"field": "file", "message": "the file has no all-day events"}])
    current = {h.day: h.name for h in calendar.holidays}
    added = {day: title for day, title in days.items() if day not in current}
    save(session, actor, {**describe(calendar), "default": calendar.is_default,
                          "holidays": [{"day": d.isoformat(), "name": t} for d, t in {**current, **added}.items()]})
    return len(added)


def add_time_off(session, actor, username, body):
    """Record days `username` is away (first and last day included)."""
    require_admin(actor, "record time off")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    errors = []
    first = _day(body.get("first_day"), "first_day", errors)
    last = _day(body.get("last_day") or body.get("first_day"), "last_day", errors)
    if first and last and last < first:
        errors.append({"field": "last_day", "message": "must not be before the first day"})
    if errors:
        raise Invalid("the time off has errors", errors)
    away = TimeOff(user_id=user.id, first_day=first, last_day=last, note=(str(body.get("note") or "")[:255] or None))
    session.add(away)
    session.commit()
    return away


def describe_time_off(away, username):
    return {"username": username, "first_day": away.first_day.isoformat(), "last_day": away.last_day.isoformat(),
            "note": away.note}


def time_off(session, limit=200):
    """(username, time off) still to come or under way, soonest first."""
    return session.execute(select(User.username, TimeOff).join(User, User.id == TimeOff.user_id)
                           .order_by(TimeOff.first_day).limit(limit)).all()


def warnings_for(session, username, row):
    """What to tell someone who takes a task due while they are away (claim or assignment)."""
    if row.due_at is None:
        return []
    day = row.due_at.date()
    away = session.scalar(select(TimeOff).join(User, User.id == TimeOff.user_id).where(
        User.username == username, TimeOff.first_day <= day, TimeOff.last_day >= day))
    if away is None:
        return []
    return [f"“{row.name}” is due {day:%a %d %b %Y}, while {username} is away "
            f"({away.first_day:%d %b} – {away.last_day:%d %b %Y}{': ' + away.note if away.note else ''})."]
