"""Parallel branches that meet again keep what each branch decided, also when the flow loops back.

SpiffWorkflow merges the branches' data at a join with the last branch to arrive winning for every
field, including fields it only carried along from the split: in a second round the branch that
finishes last would bring back the first round's answer of the other branch."""
from conftest import OPERATOR, diagram
from sqlalchemy import select

from engine import definitions, instances, tasks
from engine.models import HumanTask


def complete(session, instance, element_id, data):
    row = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open",
                                                 HumanTask.element_id == element_id))
    assert row is not None, f"{element_id} is not open"
    return tasks.complete(session, row.id, OPERATOR, data)


def test_a_second_round_keeps_the_answer_given_in_it(session):
    definitions.deploy(session, [("two_approvals.bpmn", diagram("two_approvals.bpmn"))], OPERATOR)
    instance = instances.start(session, "two_approvals", {}, OPERATOR)
    complete(session, instance, "Task_legal", {"legal_ok": False})
    instance = complete(session, instance, "Task_brand", {"brand_ok": True})
    assert instance.status == "running" and instance.data == {"legal_ok": False, "brand_ok": True}

    complete(session, instance, "Task_legal", {"legal_ok": True})      # the round-1 "no" is now a "yes"
    instance = complete(session, instance, "Task_brand", {"brand_ok": True})
    assert instance.data == {"legal_ok": True, "brand_ok": True}
    assert instance.status == "completed"


def test_the_branch_that_changed_a_field_last_wins_it(session):
    definitions.deploy(session, [("two_approvals.bpmn", diagram("two_approvals.bpmn"))], OPERATOR)
    instance = instances.start(session, "two_approvals", {}, OPERATOR)
    complete(session, instance, "Task_brand", {"brand_ok": False})
    instance = complete(session, instance, "Task_legal", {"legal_ok": True})
    assert instance.status == "running" and instance.data == {"legal_ok": True, "brand_ok": False}
