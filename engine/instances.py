"""Instances: starting a run of a process version, and committing each change of it as one unit.

`commit_change` is the single way an instance's state is written: the serialised workflow, the
human-task rows, the status and the audit events go into one transaction guarded by the
instance's `lock_version`, so a concurrent change makes the later writer fail with Conflict
instead of doubling work. What a change needs of its definition is the definition's `Bundle`
(parsed specs and steps), which never changes and is kept in memory.
"""
from collections import Counter, namedtuple
from dataclasses import dataclass, field
from types import SimpleNamespace

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.attributes import set_committed_value

from . import (
    assignment,
    calendars,
    clock,
    cycle_starts,
    deadlines,
    definitions,
    driver,
    files,
    forms,
    history,
    inbox_counts,
    lengths,
    multi_instance,
    notifications,
    reminders,
    signal_relay,
    waiting,
    workflow_cache,
    workflows,
)
from .access import candidate_keys, internal_actor, may_do, require_admin
from .data import corrections, plain
from .errors import Conflict, Forbidden, Invalid
from .insight.visibility import may_see_instance
from .models import HumanTask, Instance, TaskCandidate, fetch

LABEL_FIELDS = ("title", "name", "subject", "label", "campaign", "client", "employee")
SCHEDULER = internal_actor("scheduler")


def get(session, instance_id):
    return fetch(session, Instance, instance_id, "instance")


def start_step(bundle, key):
    """The start event's step (its form and roles) for process `key`, or None."""
    spec = bundle.specs[key][0]
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent) and task_spec.bpmn_id in bundle.steps:
            return bundle.steps[task_spec.bpmn_id]
    return None


def start_step_of(session, version):
    """The start event's step of a process version, or None."""
    return start_step(definitions.bundle_of(session, version.definition_id), version.key)


def may_start(session, actor, version, step):
    """The start event's lane or candidates decide who starts a process; besides them, the person who
    deployed this version may start it, to try what they drew."""
    if step is None or may_do(actor, candidate_keys(step["roles"], step["assignee"], step["candidate_users"])):
        return True
    return definitions.get(session, version.definition_id).created_by == actor.username


def start(session, key, data, actor, cycle_fired=False):
    """A new instance of the latest version of process `key`; `cycle_fired`: a run its timer cycle
    started (see `cycle_starts`)."""
    calendars.keep_fresh(session)
    version = definitions.latest(session, key)
    bundle = definitions.bundle_of(session, version.definition_id)
    step = start_step(bundle, key)
    if not may_start(session, actor, version, step):
        raise Forbidden(f"{actor.username} may not start {key!r} (roles: {', '.join(step['roles'])})")
    data, lists = multi_instance.split_start_data(bundle.specs[key][0], data or {})   # a collection to fan out over
    values, errors = forms.validate(step["form"] if step else [], data)
    if errors:
        raise Invalid("the start form has errors", errors)
    values.update(lists)
    workflow = workflows.create(*bundle.specs[key])
    if cycle_fired:
        cycle_starts.fire_start(workflow)
    instance = Instance(definition_id=version.definition_id, process_key=key, process_name=version.name or key,
                        version=version.version, status="running", label=_label(step, values),
                        started_by=actor.username, state=b"", created_at=clock.now())
    session.add(instance)
    session.flush()
    values = files.keep(session, instance, None, step["form"] if step else [], values, actor)
    if bundle.initiators.get(key):   # `camunda:initiator`: who started it, for `${starter}` later on
        values[bundle.initiators[key]] = actor.username
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(values)
    history.record(session, instance, "instance_started", user=actor.username, data=plain(values))
    return commit_change(session, instance, workflow, bundle, advance(session, instance, bundle, workflow))


def _label(step, values):
    fields = [f["id"] for f in (step or {}).get("form", []) if f["type"] == "string"]
    for name in [n for n in LABEL_FIELDS if n in fields] + fields:
        if values.get(name):
            return lengths.fit(str(values[name]), Instance.label)
    return None


def advance(session, instance, bundle, workflow):
    """Run the workflow on; email steps (service or send tasks with camunda:type="email") are queued
    in the notification outbox in the same transaction. Returns an Incident or None."""
    def email(task):
        step = bundle.steps.get(task.task_spec.bpmn_id) or {}
        if step.get("type") != "email":
            return False
        notice = notifications.email_step(session, instance, task.task_spec.bpmn_id, step, task.data)
        history.record(session, instance, "email_queued", task.task_spec.bpmn_id,
                       data={"to": notice.target, "subject": notice.subject})
        return True

    def completed(task):
        if (bundle.steps.get(task.task_spec.bpmn_id) or {}).get("kind") == "sendTask":
            email(task)

    return workflows.advance(workflow, completed, email)


def bundle_of(session, instance):
    """The parsed specs of the instance's definition, found by the digest its row brings along."""
    return definitions.bundle_of(session, instance.definition_id, instance.definition_digest)


def load(session, instance):
    """(bundle, workflow) of an instance about to change: the workflow this process kept after storing
    the instance's current state, else that state deserialised."""
    calendars.keep_fresh(session)   # the working days its due dates and diagram code count with
    bundle = bundle_of(session, instance)
    kept = workflow_cache.take(instance.state)
    if kept is None:
        return bundle, stored_workflow(bundle, instance)
    workflow, open_tasks = kept
    session.info.setdefault(_KNOWN_OPEN, {})[instance.id] = (instance.state, open_tasks)
    return bundle, workflow


def stored_workflow(bundle, instance):
    """The instance's workflow deserialised from its row: for readers too, who must never share the
    workflow a change may be running."""
    return workflows.load(instance.state, bundle.dialect, bundle.specs[instance.process_key])


_KNOWN_OPEN = "baton.open_tasks"   # session.info: instance id → (state, its open task rows) kept with it
OpenTask = namedtuple("OpenTask", "id element_id candidate_keys")   # the keys of a task never change


@dataclass
class Change:
    """What one change of an instance will write, worked out before anything is written: the writes
    then go to the database in one burst, so a SQLite writer holds the file's lock only that long."""
    instance: Instance
    workflow: object
    columns: dict                                   # the instance row's new values
    completing: str | None = None                   # id of the task row the caller completes with the change
    gone: list = field(default_factory=list)        # ids of open task rows whose task is no longer ready
    open_after: list = field(default_factory=list)  # OpenTask rows open once the change is written
    tasks: list = field(default_factory=list)       # column values of the new task rows
    notices: list = field(default_factory=list)     # notification rows for the new tasks
    waits_changed: bool = False                     # whether the event_waits rows must be rewritten
    guards: list = field(default_factory=list)      # Guard writes the change stands or falls with
    counts: Counter = field(default_factory=Counter)  # key → open tasks added under it (see inbox_counts)
    retimed: list = field(default_factory=list)     # (statement, values): open tasks whose dates moved (plan.anchor)


Guard = namedtuple("Guard", "statement values conflict")
Guard.__doc__ = """A write that must match exactly one row, else the change is the Conflict `conflict`: taking
the task a completion completes, which someone else may have claimed or finished meanwhile."""


def commit_change(session, instance, workflow, bundle, incident=None):
    """Write the workflow, its task rows, status and events in one transaction; Conflict on a race."""
    return apply(session, prepare(session, instance, workflow, bundle, incident))


def prepare(session, instance, workflow, bundle, incident=None, completing=None):
    """Work out (reading, never writing) what storing `workflow` as the instance's new state writes.
    Its events are recorded, to be written with the commit. `completing` is the id of the task row the
    caller completes in the same transaction: it is done, not gone."""
    try:
        now = clock.now()
        status, ended_at, problem = instance.status, instance.ended_at, instance.incident
        if incident is not None:
            status, problem = "failed", incident.as_dict()
            history.record(session, instance, "instance_failed", element_id=incident.element_id,
                           data={"message": incident.message})
        elif status == "running" and workflow.is_completed():   # a cancelled workflow is "completed" too
            status, ended_at, problem = "completed", now, None
            history.record(session, instance, "instance_completed")
        running = status == "running"
        waits = waiting.waits(workflow) if running else []
        change = Change(instance, workflow, {
            "status": status, "incident": problem, "ended_at": ended_at,
            "state": workflows.dump(workflow, bundle.dialect), "data": plain(workflows.current_data(workflow)),
            "updated_at": now, "next_timer_at": waiting.next_timer(workflow) if running else None, "waits": waits},
            completing=completing, waits_changed=waits != instance.waits)
        _plan_tasks(session, change, bundle, now, open_to_work=running)
        return change
    except Exception:
        session.rollback()
        raise


_STORED = ("status", "incident", "ended_at", "state", "data", "updated_at", "next_timer_at", "waits")
_INSTANCES = Instance.__table__
_STORE = (update(_INSTANCES)
          .where(_INSTANCES.c.id == bindparam("stored_id"), _INSTANCES.c.lock_version == bindparam("seen_version"))
          .values({column: bindparam(f"new_{column}") for column in (*_STORED, "lock_version")}))
_CANCEL_TASK = update(HumanTask.__table__).where(HumanTask.id == bindparam("gone_id")).values(state="cancelled")
_ADD_TASKS = insert(HumanTask.__table__)
_ADD_CANDIDATES = insert(TaskCandidate.__table__)
_CLOSE_CANDIDATES = delete(TaskCandidate.__table__).where(TaskCandidate.task_id == bindparam("leaving_id"))


def apply(session, change):
    """Write a prepared change and commit. The instance row is written by one UPDATE guarded by
    `lock_version`: if anyone changed the instance since it was read, that UPDATE matches no row and
    the whole change is a Conflict, nothing of it stored; so is it if one of its guards matches no row.
    The instance row is written first, then the guards: every change locks the instance before its task
    rows, so two changes of one instance wait for each other and never deadlock; and a change that lost
    a race stops before it adds any row."""
    instance, connection = change.instance, session.connection()
    seen = instance.lock_version
    # the session's object holds what is written, so that no flush writes it again (a rollback expires it)
    for column, value in {**change.columns, "lock_version": seen + 1}.items():
        set_committed_value(instance, column, value)
    try:
        session.flush()   # what else the session holds (an email step's notice) goes in the same transaction
        with driver.commit_together(connection):   # one round trip on PostgreSQL, one burst on SQLite
            driver.expect_one(connection, _STORE, {"stored_id": instance.id, "seen_version": seen,
                                                   "new_lock_version": seen + 1,
                                                   **{f"new_{k}": v for k, v in change.columns.items()}},
                              f"instance {instance.id} was changed by someone else meanwhile; reload and try again")
            for guard in change.guards:
                driver.expect_one(connection, guard.statement, guard.values, guard.conflict)
            _write_rows(session, connection, change)
        session.commit()
    except Exception:
        session.rollback()
        raise
    if instance.status == "running":
        workflow_cache.keep(instance.state, change.workflow, change.open_after)
    signal_relay.pass_on(session, instance.id, change.workflow)   # committed: its signals go to other instances
    _remember_shown(session, change)
    return instance


def _remember_shown(session, change):
    """When every task open after the change is one it opened, the rows `describe` shows are the rows it
    just wrote: keep them for the reply to the change, which then reads nothing. A task left open from
    before may have been claimed meanwhile (claims do not change the instance row): then `describe` reads."""
    opened = {values["id"]: values for values in change.tasks}
    kept = None
    if all(row.id in opened for row in change.open_after):
        kept = (change.instance.id, change.instance.state,
                [Shown._make(opened[row.id][column] for column in Shown._fields) for row in change.open_after])
    session.info[_SHOWN] = kept


def forget_shown(session):
    """A task row changed outside a change (a claim): the rows kept for the reply no longer hold."""
    session.info.pop(_SHOWN, None)


def _write_rows(session, connection, change):
    """The writes of a change besides its instance row and guards: task rows, candidates, notices, waits, events."""
    if change.gone:
        driver.write(connection, _CANCEL_TASK, [{"gone_id": task_id} for task_id in change.gone])
    leaving = change.gone + ([change.completing] if change.completing else [])
    if leaving:   # a task that is no longer open leaves the inbox (its row keeps its keys)
        driver.write(connection, _CLOSE_CANDIDATES, [{"leaving_id": task_id} for task_id in leaving])
    if change.tasks:
        driver.write(connection, _ADD_TASKS, change.tasks)
        driver.write(connection, _ADD_CANDIDATES, [
            {"task_id": values["id"], "key": key, "shared": len(values["candidate_keys"]) > 1,
             "claimed_by": None, "due_at": values["due_at"], "created_at": values["created_at"]}
            for values in change.tasks for key in values["candidate_keys"]])
    for statement, values in change.retimed:
        driver.write(connection, statement, values)
    notifications.queue(session, change.notices)
    if change.waits_changed:
        waiting.write(session, change.instance.id, change.columns["waits"])
    history.write_pending(session)
    inbox_counts.write(connection, change.counts)   # last: the counters are the rows other changes wait on


_OPEN_TASKS = (select(HumanTask.id, HumanTask.element_id, HumanTask.candidate_keys)
               .where(HumanTask.instance_id == bindparam("instance_id"), HumanTask.state == "open"))


def _open_rows(session, instance):
    """The instance's open task rows: as kept with its workflow when `load` found it in memory, else read."""
    known = session.info.get(_KNOWN_OPEN, {}).pop(instance.id, None)
    if known is not None and known[0] is instance.state:
        return known[1]
    return [OpenTask(*row) for row in driver.read(session.connection(), _OPEN_TASKS, {"instance_id": instance.id})]


def _plan_tasks(session, change, bundle, now, open_to_work):
    """Make the instance's open task rows the workflow's READY human tasks: cancel the rows whose task is
    gone, add a row (with its candidates and notices) for each new one."""
    instance = change.instance
    ready = {str(t.id): t for t in workflows.human_tasks(change.workflow)} if open_to_work else {}
    open_rows = _open_rows(session, instance)
    for row in open_rows:
        if row.id in ready and row.id != change.completing:
            change.open_after.append(row)
            continue
        inbox_counts.tally(change.counts, row.candidate_keys, -1)
        if row.id != change.completing:
            change.gone.append(row.id)
            history.record(session, instance, "task_cancelled", row.element_id, row.id)
    known = {row.id for row in open_rows}
    for task_id, task in ready.items():
        if task_id not in known:
            values = _new_task(session, instance, bundle, task, now)
            change.tasks.append(values)
            change.open_after.append(OpenTask(values["id"], values["element_id"], values["candidate_keys"]))
            inbox_counts.tally(change.counts, values["candidate_keys"], +1)
            change.notices += notifications.for_new_task(session, SimpleNamespace(**values))


def _step_of(bundle, task):
    spec = task.task_spec
    step = bundle.steps.get(spec.bpmn_id)
    if step is None:  # a plain task the metadata reader did not see: open to its lane
        lane = (spec.lane or "").strip().lower()
        step = {"name": spec.bpmn_name or spec.bpmn_id, "lane": spec.lane, "roles": [lane] if lane else [],
                "assignee": None, "candidate_users": [], "due": None, "follow_up": None, "documentation": "",
                "form": []}
    return step


def _new_task(session, instance, bundle, task, now):
    """The column values of the row for a task that just became ready."""
    step = _step_of(bundle, task)
    roles, assignee, users, problems = assignment.people(step, task.data, instance.started_by, bundle.dialect)
    assignee = lengths.fit(assignee, HumanTask.assignee)
    values = {"id": str(task.id), "instance_id": instance.id, "process_key": instance.process_key,
              "process_name": instance.process_name, "instance_label": instance.label,
              "element_id": task.task_spec.bpmn_id,
              "name": lengths.fit(multi_instance.named_for(step["name"], task.data), HumanTask.name),
              "item": multi_instance.item_of(task), "lane": step["lane"],
              "roles": roles, "assignee": assignee, "claimed_by": None, "state": "open",
              "form": step["form"], "documentation": step["documentation"], "due_at": None, "follow_up_at": None,
              "created_at": now,
              "candidate_keys": sorted(candidate_keys(roles, assignee, users))}
    for problem in problems:   # the step stays with admins, who can hand it on
        history.record(session, instance, "assignment_error", values["element_id"], values["id"],
                       data={"message": problem})
    for column, key in (("due_at", "due"), ("follow_up_at", "follow_up")):
        try:
            values[column] = deadlines.resolve(step[key], task.data, now)
        except Exception as error:  # noqa: BLE001 - a bad deadline must not lose the task: record why it has none
            history.record(session, instance, "deadline_error", values["element_id"], values["id"],
                           data={"field": key, "message": f"{step[key]!r}: {error}"})
    try:
        values["reminder_leads"] = reminders.leads(step)
    except ValueError as error:  # a bad `reminders` entry: the server's default reminders instead
        values["reminder_leads"] = reminders.server_leads()
        history.record(session, instance, "deadline_error", values["element_id"], values["id"],
                       data={"field": "reminders", "message": str(error)})
    values["next_reminder_at"] = reminders.first(SimpleNamespace(**values), now)
    history.record(session, instance, "task_ready", values["element_id"], values["id"],
                   data={"roles": values["roles"], "assignee": values["assignee"]})
    return values


def _starts_on_a_timer(spec):
    return any(isinstance(task_spec, StartEvent) and
               type(getattr(task_spec, "event_definition", None)).__name__ in waiting.TIMER_TYPES
               for task_spec in spec.start.outputs)


def start_scheduled(session, definition):
    """A process whose start event is a timer (a date, a delay or a cycle such as `R/P7D`) is kept as one
    instance waiting on that timer; a date or delay runs in it, each firing of a cycle starts a new
    instance (`cycle_starts`). Deploying a new version cancels the waiting instance of the old one and
    puts the new one in place."""
    bundle = definitions.bundle_for(definition)
    for version in definition.processes:
        if not version.executable or not _starts_on_a_timer(bundle.specs[version.key][0]):
            continue
        for old in session.scalars(select(Instance.id).where(
                Instance.process_key == version.key, Instance.started_by == SCHEDULER.username,
                Instance.status == "running", Instance.definition_id != definition.id)).all():
            cancel(session, old, SCHEDULER)
        if session.scalar(select(Instance.id).where(Instance.definition_id == definition.id,
                                                    Instance.process_key == version.key)) is None:
            start(session, version.key, {}, SCHEDULER)


def cancel(session, instance_id, actor):
    require_admin(actor, "cancel instances")
    instance = get(session, instance_id)
    if instance.status not in ("running", "failed"):
        raise Conflict(f"instance {instance_id} is {instance.status}")
    bundle, workflow = load(session, instance)
    workflow.cancel()
    instance.status, instance.ended_at = "cancelled", clock.now()
    history.record(session, instance, "instance_cancelled", user=actor.username)
    return commit_change(session, instance, workflow, bundle)


def retry(session, instance_id, actor, data=None):
    """Run a failed instance's element again, after an admin fixed the data it needs."""
    if not actor.admin:
        raise Forbidden("only admins may retry failed instances")
    instance = get(session, instance_id)
    if instance.status != "failed":
        raise Conflict(f"instance {instance_id} is {instance.status}, not failed")
    bundle, workflow = load(session, instance)
    failed = workflow.get_tasks(state=TaskState.ERROR)
    if not failed:
        raise Conflict(f"instance {instance_id} has no failed element to retry")
    if data and failed[0].parent is not None:   # the element runs again on the data of the step before it:
        failed[0].parent.data.update(data)      # a correction of a value it already had must land there too
    workflow.reset_from_task_id(failed[0].id, data={**failed[0].data, **(data or {})})
    instance.status, instance.incident = "running", None
    history.record(session, instance, "instance_retried", failed[0].task_spec.bpmn_id, user=actor.username,
                   data=plain(data or {}))
    return commit_change(session, instance, workflow, bundle, advance(session, instance, bundle, workflow))


def retry_corrected(session, instance_id, actor, edited, added=None):
    """`retry` with the data an admin corrected as text in a page's boxes ({key: text}) and a value the
    data lacked (`added`, (name, text)); see `data.corrections`: only what changed is passed on."""
    if not actor.admin:
        raise Forbidden("only admins may retry failed instances")
    return retry(session, instance_id, actor, corrections(data_at_failure(session, get(session, instance_id)),
                                                          edited, added))


def data_at_failure(session, instance):
    """The data the failed element of a failed instance saw: what a retry starts from (the instance's
    stored data may not hold it, as it stopped inside a step)."""
    bundle, workflow = load(session, instance)
    failed = workflow.get_tasks(state=TaskState.ERROR)
    return plain(failed[0].data) if failed else instance.data


def took_part(session, instance, actor):
    """Whether `actor` may read the instance (the rule is `insight.visibility`'s)."""
    return may_see_instance(session, instance, actor)


_OPEN_TASKS_SHOWN = (select(HumanTask.id, HumanTask.element_id, HumanTask.name, HumanTask.roles, HumanTask.assignee,
                            HumanTask.claimed_by, HumanTask.state, HumanTask.due_at)
                     .where(HumanTask.instance_id == bindparam("instance_id"), HumanTask.state == "open")
                     .order_by(HumanTask.created_at))
Shown = namedtuple("Shown", [column.key for column in _OPEN_TASKS_SHOWN.selected_columns])
_SHOWN = "baton.shown"   # session.info: (instance id, state, its open task rows as `describe` shows them)


def _open_tasks_shown(session, instance):
    """As the change that stored the instance's state left them (see `_remember_shown`), else read: in the
    session's transaction, or, when it has none (a reply to a change it just committed), on a connection
    that opens none: on PostgreSQL one round trip instead of BEGIN, SELECT and an end."""
    kept = session.info.pop(_SHOWN, None)
    if kept is not None and kept[0] == instance.id and kept[1] is instance.state:
        return kept[2]
    if (session.registry() if isinstance(session, scoped_session) else session).in_transaction():
        return driver.read(session.connection(), _OPEN_TASKS_SHOWN, {"instance_id": instance.id})
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return driver.read(connection, _OPEN_TASKS_SHOWN, {"instance_id": instance.id})


def describe(session, instance):
    tasks = _open_tasks_shown(session, instance)
    return {"id": instance.id, "status": instance.status, "process_key": instance.process_key,
            "process_name": instance.process_name, "version": instance.version, "label": instance.label,
            "data": instance.data, "incident": instance.incident, "started_by": instance.started_by,
            "created_at": instance.created_at, "ended_at": instance.ended_at,
            "tasks": [{"id": t.id, "element_id": t.element_id, "name": t.name, "roles": t.roles,
                       "assignee": t.assignee, "claimed_by": t.claimed_by, "state": t.state, "due_at": t.due_at}
                      for t in tasks]}
