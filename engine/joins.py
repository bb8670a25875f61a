"""Parallel branches meeting at a join keep what each branch changed.

SpiffWorkflow gives every branch its own copy of the data at the split and, at the join, lets the
branch that arrives last overwrite every field, also those it only carried along. In a loop
(review → changes → review again) that brings back the previous round's answer of the other
branch: legal says "yes" in round two, brand finishes after it and restores legal's "no" from
round one. Camunda users expect the opposite, and rightly: a field is what was last *written*.

So the join takes, from each branch, only the fields that branch changed since it left the path
the branches share, in the order the branches arrived; the last to arrive keeps its own changes.
"""
import copy

from SpiffWorkflow.util.task import TaskState


def _path_ids(task):
    ids = set()
    while task is not None:
        ids.add(task.id)
        task = task.parent
    return ids


def _split_of(task, shared):
    """The last task of `task`'s branch that is also on the path the joining branch took."""
    while task is not None and task.id not in shared:
        task = task.parent
    return task


def _changes(data, before):
    return {key: value for key, value in data.items() if key not in before or before[key] != value}


def _arrived_since_last_join(spec, my_task, shared):
    """This join's other arrivals in the current round: a loop leaves earlier rounds' arrivals in the tree."""
    earlier = [t for t in my_task.workflow.tasks.values() if t.task_spec == spec and t.id in shared and t != my_task]
    since = max((t.last_state_change for t in earlier), default=None)
    return sorted((t for t in my_task.workflow.tasks.values()
                   if t.task_spec == spec and t.id not in shared and t.has_state(TaskState.FINISHED_MASK)
                   and (since is None or t.last_state_change > since)), key=lambda t: t.last_state_change)


def merging_run_hook(self, my_task):
    """Every unstructured join (parallel, inclusive, the process end) merges as described above."""
    shared = _path_ids(my_task)
    others = _arrived_since_last_join(self, my_task, shared)
    my_task._inherit_data()
    splits = [_split_of(t.parent, shared) for t in others]
    before = splits[-1].data if splits and splits[-1] is not None else {}
    mine = _changes(my_task.parent.data, before)
    for task, split in zip(others, splits):
        theirs = _changes(task.parent.data, split.data if split is not None else {})
        my_task.data.update({k: copy.deepcopy(v) for k, v in theirs.items() if k not in mine})
        if task.has_state(TaskState.COMPLETED):   # a branch reset after it completed (SpiffWorkflow's own rule)
            task._drop_children(force=True)
    return True

