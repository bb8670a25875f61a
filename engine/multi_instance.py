"""Multi-instance activities from Camunda 7 files, as their authors mean them.

- Each instance is about one item of `camunda:collection`: its task is named for it (`Review
  ${channel}` → `Review email`) and carries it (`item_of`), so people see which one is theirs.
- What each instance's form collects is kept: SpiffWorkflow's Camunda flavour drops it (the output
  collection is the input collection written back). `<collection>_results` gets one entry per item,
  in the collection's order: the item under the element variable's name plus what that instance's
  form (or script) added or changed. SpiffArena files name their own output collection and item; they
  are left as they are.
- A collection may be given as start data, as a list (`split_start_data`): the start form has no
  field type for it.
"""
import re

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.camunda.specs.multiinstance_task import ParallelMultiInstanceTask, SequentialMultiInstanceTask

_PLACEHOLDER = re.compile(r"\$\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}")
_CAMUNDA_KINDS = (ParallelMultiInstanceTask, SequentialMultiInstanceTask)
_merge_child = MultiInstanceTask.merge_child


def named_for(name, data):
    """`Review ${channel}` with the values in `data` (`${a.b}` reads a nested key); a placeholder
    naming nothing in the data stays as written."""
    def value(match):
        found = data
        for part in match.group(1).split("."):
            if not isinstance(found, dict) or part not in found:
                return match.group(0)
            found = found[part]
        return str(found)
    return _PLACEHOLDER.sub(value, name) if name else name


def item_of(task):
    """The item a multi-instance task is about, or None."""
    spec = getattr(task.parent, "task_spec", None)
    reference = getattr(spec, "input_item", None) if isinstance(spec, MultiInstanceTask) else None
    return reference.get(task) if reference is not None and reference.exists(task) else None


def collections(spec):
    """The data names the Camunda multi-instance activities of a process spec read their items from."""
    return {task_spec.data_output.bpmn_id for task_spec in spec.task_specs.values()
            if isinstance(task_spec, _CAMUNDA_KINDS) and task_spec.cardinality is None and task_spec.data_output}


def split_start_data(spec, data):
    """(the data for the start form, {collection: list}): lists given for the process's collections."""
    if not isinstance(data, dict):
        return data, {}
    lists = {name: value for name, value in data.items() if name in collections(spec) and isinstance(value, list)}
    return {k: v for k, v in data.items() if k not in lists}, lists


def merge_with_results(spec, workflow, child):
    _merge_child(spec, workflow, child)
    if not isinstance(spec, _CAMUNDA_KINDS) or spec.data_output is None:
        return
    parent, name = child.parent.data, f"{spec.data_output.bpmn_id}_results"
    entry = {key: value for key, value in child.data.items()        # the item, and what the instance added
             if key != name and (key not in parent or parent[key] != value)}
    results = parent.setdefault(name, [])
    index = child.internal_data.get("key_or_index")
    if isinstance(index, int):
        results.extend([None] * (index + 1 - len(results)))
        results[index] = entry
    else:
        results.append(entry)

