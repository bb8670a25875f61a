"""Instances: starting a run of a process version, and committing each change of it as one unit.

`commit_change` is the single way an instance's state is written: the serialised workflow, the
human-task rows, the status and the audit events go into one transaction guarded by the
instance's `lock_version`, so a concurrent change makes the later writer fail with Conflict
instead of doubling work.
"""
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from . import clock, deadlines, definitions, forms, history, notifications, waiting, workflows
from .access import Actor, candidate_keys, may_do
from .data import plain
from .errors import Conflict, Forbidden, Invalid
from .models import Event, HumanTask, Instance, TaskCandidate, fetch

LABEL_FIELDS = ("title", "name", "subject", "label", "campaign", "client", "employee")
SCHEDULER = Actor("scheduler", admin=True)


def get(session, instance_id):
    return fetch(session, Instance, instance_id, "instance")


def start_step(definition, bundle, key):
    """The start event's step (its form and roles) for process `key`, or None."""
    spec = bundle.specs[key][0]
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent) and task_spec.bpmn_id in definition.steps:
            return definition.steps[task_spec.bpmn_id]
    return None


def may_start(actor, step):
    return step is None or may_do(actor, candidate_keys(step["roles"], step["assignee"], step["candidate_users"]))


def start(session, key, data, actor):
    version = definitions.latest(session, key)
    definition = definitions.get(session, version.definition_id)
    bundle = definitions.bundle_for(definition)
    step = start_step(definition, bundle, key)
    if not may_start(actor, step):
        raise Forbidden(f"{actor.username} may not start {key!r} (roles: {', '.join(step['roles'])})")
    values, errors = forms.validate(step["form"] if step else [], data or {})
    if errors:
        raise Invalid("the start form has errors", errors)
    workflow = workflows.create(*bundle.specs[key])
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(values)
    instance = Instance(definition_id=definition.id, process_key=key, process_name=version.name or key,
                        version=version.version, status="running", label=_label(step, values),
                        started_by=actor.username, state=b"", created_at=clock.now())
    session.add(instance)
    session.flush()
    history.record(session, instance, "instance_started", user=actor.username, data=plain(values))
    return commit_change(session, instance, workflow, definition, advance(session, instance, definition, workflow))


def _label(step, values):
    fields = [f["id"] for f in (step or {}).get("form", []) if f["type"] == "string"]
    for name in [n for n in LABEL_FIELDS if n in fields] + fields:
        if values.get(name):
            return str(values[name])[:255]
    return None


def advance(session, instance, definition, workflow):
    """Run the workflow on; email steps (service or send tasks with camunda:type="email") are queued
    in the notification outbox in the same transaction. Returns an Incident or None."""
    def email(task):
        step = definition.steps.get(task.task_spec.bpmn_id) or {}
        if step.get("type") != "email":
            return False
        notice = notifications.email_step(session, instance, task.task_spec.bpmn_id, step, task.data)
        history.record(session, instance, "email_queued", task.task_spec.bpmn_id,
                       data={"to": notice.target, "subject": notice.subject})
        return True

    def completed(task):
        if (definition.steps.get(task.task_spec.bpmn_id) or {}).get("kind") == "sendTask":
            email(task)

    return workflows.advance(workflow, completed, email)


def load(session, instance):
    definition = definitions.get(session, instance.definition_id)
    return definition, workflows.load(instance.state, definition.dialect)


def commit_change(session, instance, workflow, definition, incident=None):
    """Write the workflow, its task rows, status and events in one transaction; Conflict on a race."""
    try:
        _write(session, instance, workflow, definition, incident)
        session.commit()
    except StaleDataError:   # raised at commit or at any autoflush before it
        session.rollback()
        raise Conflict(f"instance {instance.id} was changed by someone else meanwhile; reload and try again") \
            from None
    except Exception:
        session.rollback()
        raise
    return instance


def _write(session, instance, workflow, definition, incident):
    now = clock.now()
    if incident is not None:
        instance.status, instance.incident = "failed", incident.as_dict()
        history.record(session, instance, "instance_failed", element_id=incident.element_id,
                       data={"message": incident.message})
    elif instance.status == "running" and workflow.is_completed():   # a cancelled workflow is "completed" too
        instance.status, instance.ended_at, instance.incident = "completed", now, None
        history.record(session, instance, "instance_completed")
    instance.state = workflows.dump(workflow, definition.dialect)
    instance.data = plain(workflows.current_data(workflow))
    instance.updated_at = now
    _sync_tasks(session, instance, workflow, definition, now, open_to_work=instance.status == "running")
    waiting.project(session, instance, workflow)


def _sync_tasks(session, instance, workflow, definition, now, open_to_work):
    ready = {str(t.id): t for t in workflows.human_tasks(workflow)} if open_to_work else {}
    open_rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                        HumanTask.state == "open")).all()
    known = {row.id for row in open_rows}
    for row in open_rows:
        if row.id not in ready:
            row.state = "cancelled"
            history.record(session, instance, "task_cancelled", row.element_id, row.id)
    for task_id, task in ready.items():
        if task_id not in known:
            row = _new_task_row(session, instance, definition, task, now)
            session.add(row)
            notifications.task_ready(session, row)


def _step_of(definition, task):
    spec = task.task_spec
    step = definition.steps.get(spec.bpmn_id)
    if step is None:  # a plain task the metadata reader did not see: open to its lane
        lane = (spec.lane or "").strip().lower()
        step = {"name": spec.bpmn_name or spec.bpmn_id, "lane": spec.lane, "roles": [lane] if lane else [],
                "assignee": None, "candidate_users": [], "due": None, "follow_up": None, "documentation": "",
                "form": []}
    return step


def _new_task_row(session, instance, definition, task, now):
    step = _step_of(definition, task)
    row = HumanTask(id=str(task.id), instance_id=instance.id, process_key=instance.process_key,
                    process_name=instance.process_name, instance_label=instance.label,
                    element_id=task.task_spec.bpmn_id, name=step["name"], lane=step["lane"], roles=step["roles"],
                    assignee=step["assignee"], state="open", form=step["form"],
                    documentation=step["documentation"], created_at=now,
                    candidates=[TaskCandidate(key=k) for k in sorted(
                        candidate_keys(step["roles"], step["assignee"], step["candidate_users"]))])
    for column, key in (("due_at", "due"), ("follow_up_at", "follow_up")):
        try:
            setattr(row, column, deadlines.resolve(step[key], task.data, now))
        except Exception as error:  # a bad deadline must not lose the task: record why it has none
            history.record(session, instance, "deadline_error", row.element_id, row.id,
                           data={"field": key, "message": f"{step[key]!r}: {error}"})
    history.record(session, instance, "task_ready", row.element_id, row.id,
                   data={"roles": row.roles, "assignee": row.assignee})
    return row


def _starts_on_a_timer(spec):
    return any(isinstance(task_spec, StartEvent) and
               type(getattr(task_spec, "event_definition", None)).__name__ in waiting.TIMER_TYPES
               for task_spec in spec.start.outputs)


def start_scheduled(session, definition):
    """A process whose start event is a timer (a date, a delay or a cycle such as `R/P7D`) runs as one
    instance waiting on that timer; each cycle starts a run inside it. Deploying a new version cancels
    the waiting instance of the old one and puts the new one in place."""
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
    if not actor.admin:
        raise Forbidden("only admins may cancel instances")
    instance = get(session, instance_id)
    if instance.status not in ("running", "failed"):
        raise Conflict(f"instance {instance_id} is {instance.status}")
    definition, workflow = load(session, instance)
    workflow.cancel()
    instance.status, instance.ended_at = "cancelled", clock.now()
    history.record(session, instance, "instance_cancelled", user=actor.username)
    return commit_change(session, instance, workflow, definition)


def retry(session, instance_id, actor, data=None):
    """Run a failed instance's element again, after an admin fixed the data it needs."""
    if not actor.admin:
        raise Forbidden("only admins may retry failed instances")
    instance = get(session, instance_id)
    if instance.status != "failed":
        raise Conflict(f"instance {instance_id} is {instance.status}, not failed")
    definition, workflow = load(session, instance)
    failed = workflow.get_tasks(state=TaskState.ERROR)
    if not failed:
        raise Conflict(f"instance {instance_id} has no failed element to retry")
    workflow.reset_from_task_id(failed[0].id, data={**failed[0].data, **(data or {})})
    instance.status, instance.incident = "running", None
    history.record(session, instance, "instance_retried", failed[0].task_spec.bpmn_id, user=actor.username,
                   data=plain(data or {}))
    return commit_change(session, instance, workflow, definition, advance(session, instance, definition, workflow))


def took_part(session, instance, actor):
    """Admins, the starter and anyone who acted on the instance or may act on it now may read it."""
    if actor.admin or instance.started_by == actor.username:
        return True
    if session.scalar(select(Event.id).where(Event.instance_id == instance.id, Event.user == actor.username)
                      .limit(1)) is not None:
        return True
    return session.scalar(select(HumanTask.id).join(TaskCandidate).where(
        HumanTask.instance_id == instance.id, HumanTask.state == "open",
        TaskCandidate.key.in_(actor.keys)).limit(1)) is not None


def describe(session, instance):
    tasks = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                    HumanTask.state == "open").order_by(HumanTask.created_at)).all()
    return {"id": instance.id, "status": instance.status, "process_key": instance.process_key,
            "process_name": instance.process_name, "version": instance.version, "label": instance.label,
            "data": instance.data, "incident": instance.incident, "started_by": instance.started_by,
            "created_at": instance.created_at, "ended_at": instance.ended_at,
            "tasks": [{"id": t.id, "element_id": t.element_id, "name": t.name, "roles": t.roles,
                       "assignee": t.assignee, "claimed_by": t.claimed_by, "state": t.state, "due_at": t.due_at}
                      for t in tasks]}
