"""What earlier steps hand to the one at hand: the answers entered on the start form and on each
completed step of the instance, under the labels their forms gave them.

The writer whose outline came back reads the reviewer's notes; the approver reads the outline link
they approve. Each step shows its latest run (after a rework, the newest notes count); fields the
task's own form asks again are left out, since the form already shows them filled in."""
from sqlalchemy import select

from . import definitions
from .models import HumanTask


def earlier_answers(session, row, instance):
    """[{"step", "by", "at", "answers": [{"label", "value", "type"}]}] in the order the steps were done."""
    steps = definitions.bundle_of(session, instance.definition_id).steps.values()
    start = [f for step in steps if step.get("kind") == "startEvent" for f in step.get("form") or []]
    done = [("Start", instance.started_by, instance.created_at, start)]
    latest = {}
    for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == row.instance_id,
                                                        HumanTask.state == "completed", HumanTask.id != row.id)
                                .order_by(HumanTask.completed_at, HumanTask.id)):
        latest.pop(task.element_id, None)   # a later run of the same step replaces it, and moves to its place
        latest[task.element_id] = task
    done += [(task.name, task.completed_by, task.completed_at, task.form or []) for task in latest.values()]
    shown, result = {f["id"] for f in row.form or []}, []
    for step, by, at, fields in reversed(done):
        answers = [{"label": f.get("label") or f["id"], "value": instance.data.get(f["id"]), "type": f["type"]}
                   for f in fields if f["id"] not in shown and instance.data.get(f["id"]) not in (None, "")]
        shown |= {f["id"] for f in fields}
        if answers:
            result.append({"step": step, "by": by, "at": at, "answers": answers})
    return result[::-1]
