"""The pipeline board of a process: a column per human step in flow order (the newest version's), a
card per running instance in the column of each of its current steps. Reads open task rows only."""
from sqlalchemy import select

from ..models import HumanTask, Instance
from .flow import human_steps, version_of
from .overview import owner
from .visibility import visible_instances

_CARD_COLUMNS = (HumanTask.id, HumanTask.instance_id, HumanTask.instance_label, HumanTask.element_id, HumanTask.name,
                 HumanTask.claimed_by, HumanTask.assignee, HumanTask.roles, HumanTask.due_at, HumanTask.created_at)


def board(session, actor, key, now):
    columns = [{"element_id": s["element_id"], "name": s["name"], "cards": []}
               for s in human_steps(session, version_of(session, key))]
    by_element = {c["element_id"]: c for c in columns}
    rows = session.execute(
        select(*_CARD_COLUMNS, Instance.created_at.label("started_at"))
        .join(Instance, Instance.id == HumanTask.instance_id)
        .where(HumanTask.process_key == key, HumanTask.state == "open", Instance.status == "running",
               visible_instances(actor))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)).all()
    for task in rows:
        column = by_element.get(task.element_id)
        if column is None:   # a step only an older version has: its own column, after the flow's
            column = by_element[task.element_id] = {"element_id": task.element_id, "name": task.name, "cards": []}
            columns.append(column)
        column["cards"].append({"instance_id": task.instance_id, "task_id": task.id, "label": task.instance_label,
                                "owner": owner(task), "due_at": task.due_at,
                                "overdue": task.due_at is not None and task.due_at <= now,
                                "started_at": task.started_at, "waiting_since": task.created_at})
    return {"process_key": key, "columns": columns}
