"""The tables. The inbox reads `human_tasks` and `task_candidates` only; the serialised workflow
in `instances.state` is read solely when an instance changes."""
from datetime import date, datetime
from functools import cache

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from . import clock
from .errors import NotFound

MAX_ID = 2 ** 31 - 1   # the largest id an INTEGER primary key holds on PostgreSQL (a larger one overflows there)


class Base(DeclarativeBase):
    pass


@cache
def _by_key(model):
    """A prepared SELECT of one `model` row by primary key (cheaper than `Session.get` to run)."""
    return select(model).where(model.__table__.c.id == bindparam("key"))


def fetch(session, model, key, what):
    """The row of `model` with primary key `key`, or NotFound naming `what`: also for ids no column
    can hold, which some drivers would turn into an overflow error."""
    row = None if isinstance(key, int) and not 0 < key <= MAX_ID else \
        session.execute(_by_key(model), {"key": key}).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no {what} {key}")
    return row


class User(Base):
    __tablename__ = "users"
    # one account per name whatever its case: task identity compares names in lower case
    __table_args__ = (Index("uq_users_username_lower", text("lower(username)"), unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    roles: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self):
        return sorted(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(80), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class SignIn(Base):
    """A signed-in browser session, kept on the server so signing out (or a new password) ends it for good."""
    __tablename__ = "sign_ins"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)   # SHA-256 of the id in the session cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """A failed sign-in, for the throttle every web process shares (`engine.login_throttle`)."""
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))   # in lower case
    at: Mapped[datetime] = mapped_column(DateTime)


class Definition(Base):
    """One upload: a diagram plus the files deployed with it, as uploaded."""
    __tablename__ = "definitions"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    dialect: Mapped[str] = mapped_column(String(20))
    steps: Mapped[dict] = mapped_column(JSON, default=dict)
    problems: Mapped[list | None] = mapped_column(JSON)
    warnings: Mapped[list | None] = mapped_column(JSON)     # accepted, but worth knowing (a call to nowhere yet)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    files: Mapped[list["DefinitionFile"]] = relationship(order_by="DefinitionFile.position",
                                                         cascade="all, delete-orphan")
    processes: Mapped[list["ProcessVersion"]] = relationship(order_by="ProcessVersion.id",
                                                             cascade="all, delete-orphan", lazy="selectin")


class DefinitionFile(Base):
    __tablename__ = "definition_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    lent_from: Mapped[int | None] = mapped_column(Integer)   # a called diagram copied from this definition


class ProcessVersion(Base):
    """A process of a definition; versions count up per process key."""
    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    executable: Mapped[bool] = mapped_column(Boolean)


class AnalyticsSnapshot(Base):
    """The figures of one process version as the worker last computed them (see insight.snapshots)."""
    __tablename__ = "analytics_snapshots"
    process_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    runs: Mapped[int] = mapped_column(Integer)   # the completed steps the figures were drawn from
    figures: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(DateTime)


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_started_by", "started_by"),                 # who took part
                      Index("ix_instances_status_updated", "status", "updated_at"),   # stalled work
                      Index("ix_instances_process_version", "process_key", "version"))  # analytics
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(255), index=True)
    process_name: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    incident: Mapped[dict | None] = mapped_column(JSON)
    started_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_timer_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    waits: Mapped[list | None] = mapped_column(JSON)   # [[kind, name]] as in event_waits; None: unknown
    # optimistic lock: raised by the one guarded UPDATE that writes a change (instances.apply), nowhere else
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # read with the row: a change finds its definition's parsed specs by this digest without another query
    definition_digest: Mapped[str] = column_property(
        select(Definition.sha256).where(Definition.id == definition_id).scalar_subquery())


_OPEN = "state = 'open'"
CLAIMED = "claimed_by IS NOT NULL"
SHARED, SINGLE = "shared = true", "shared = false"   # a candidate row of a task with several keys, or one


def _only(condition):
    """A partial index's condition, for both databases."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class HumanTask(Base):
    """A READY user/manual task, projected from the workflow so the inbox never deserialises."""
    __tablename__ = "human_tasks"
    __table_args__ = (
        # Partial, as no index may start with `state` or hold the unclaimed tasks under `claimed_by`:
        # SQLite (which has no statistics) would take `state = 'open'` or `claimed_by IS NULL` for a
        # selective condition and walk every open task for each inbox query.
        Index("ix_human_tasks_open_due", "due_at", **_only(_OPEN)),          # reminders, overdue notices
        Index("ix_human_tasks_claimed_by", "claimed_by", **_only(CLAIMED)),
        # the inbox's order: PostgreSQL walks it and stops after one page
        Index("ix_human_tasks_open_order", text("(due_at IS NULL)"), "due_at", "created_at", "id", **_only(_OPEN)),
        # the open task of a candidate row, without reading the task (SQLite needs `state` in it for that)
        Index("ix_human_tasks_open_visible", "id", "state", "claimed_by", "due_at", "created_at", **_only(_OPEN)),
        Index("ix_human_tasks_open_process", "process_key", "element_id", **_only(_OPEN)),   # the pipeline board
        Index("ix_human_tasks_next_reminder", "next_reminder_at", **_only(_OPEN)),   # the worker's reminders
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(255))
    process_name: Mapped[str | None] = mapped_column(String(255))
    instance_label: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)   # splits waiting from working (analytics)
    state: Mapped[str] = mapped_column(String(20))
    form: Mapped[list] = mapped_column(JSON, default=list)
    documentation: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    follow_up_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_by: Mapped[str | None] = mapped_column(String(80))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime)   # the last reminder sent
    reminder_leads: Mapped[list | None] = mapped_column(JSON)   # seconds before the due date, one per reminder
    item: Mapped[object] = mapped_column(JSON, nullable=True)   # the multi-instance item the task is about
    next_reminder_at: Mapped[datetime | None] = mapped_column(DateTime)   # see engine.reminders
    overdue_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    candidate_keys: Mapped[list | None] = mapped_column(JSON)   # who may do it (see TaskCandidate.key)


class StoredFile(Base):
    """A file attached through a form (see engine/files.py); the instance data refers to it by id.
    `content` is NULL when the bytes live in BATON_FILE_FOLDER under their `sha256`."""
    __tablename__ = "files"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))   # None: attached on the start form
    field: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)


class TaskCandidate(Base):
    """Who may do an open task, one key per row: `role:<name>`, `user:<name>` or `*` (everyone), with
    what the inbox filters and sorts on, so a person's inbox is read from the ranges of their keys in
    one index. Rows exist while the task is open only."""
    __tablename__ = "task_candidates"
    __table_args__ = (Index("ix_task_candidates_inbox", "key", text("(due_at IS NULL)"), "due_at", "created_at",
                            "task_id", "claimed_by", "shared"),
                      # the tab counts read these few rows, not every row of a key (see InboxCount)
                      Index("ix_task_candidates_claimed", "key", "claimed_by", "shared",
                            **_only(f"{CLAIMED} AND {SINGLE}")),
                      Index("ix_task_candidates_shared", "key", "task_id", "claimed_by", "shared", **_only(SHARED)))
    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)   # the task has other keys too
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)


class InboxCount(Base):
    """How many open tasks have `key` as their only candidate key, kept up to date by every change that
    opens or closes one: a person's tab sizes add these up for their keys, take away the few such tasks
    claimed by someone else and add the tasks shared by several keys (`tasks.counts`), so they cost the
    same whether a role has ten open tasks or ten thousand."""
    __tablename__ = "inbox_counts"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    open_tasks: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """The append-only audit trail of an instance."""
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_instance", "user", "instance_id"),)   # the instances one acted on
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    type: Mapped[str] = mapped_column(String(40))
    element_id: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(36))
    user: Mapped[str | None] = mapped_column(String(80))
    data: Mapped[dict | None] = mapped_column(JSON)


class CalendarFeed(Base):
    """A person's secret calendar address (`/calendar/<secret>.ics`): shown to them, renewable."""
    __tablename__ = "calendar_feeds"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class Calendar(Base):
    """Working days and hours with their public holidays: what `working_days(n)` and the plan count with.
    One calendar is the default."""
    __tablename__ = "calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    working_days: Mapped[list] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5])   # ISO weekdays, Monday = 1
    day_starts: Mapped[str] = mapped_column(String(5), default="09:00")
    day_ends: Mapped[str] = mapped_column(String(5), default="17:00")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    holidays: Mapped[list["Holiday"]] = relationship(order_by="Holiday.day", cascade="all, delete-orphan",
                                                     lazy="selectin")


class Holiday(Base):
    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(255))


class TimeOff(Base):
    """Days a person is away (first and last day included)."""
    __tablename__ = "time_off"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(255))


class EventWait(Base):
    """A message or signal an instance is waiting for, so delivery finds it without loading every instance."""
    __tablename__ = "event_waits"
    __table_args__ = (Index("ix_event_waits_lookup", "kind", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(255))


class Notification(Base):
    """One message to one person or endpoint, kept with its delivery status; the outbox the worker drains."""
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_pending", "status", "next_attempt_at"),
                      Index("ix_notifications_inbox", "recipient", "channel", "read_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))          # app, email, webhook
    kind: Mapped[str] = mapped_column(String(40))             # task_ready, reminder, overdue, escalation, email_step
    recipient: Mapped[str | None] = mapped_column(String(80))  # username, when the notice is for a person
    target: Mapped[str | None] = mapped_column(String(500))   # email address or webhook URL
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))           # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
