"""Call activities pass data as their mappings say (modeller/call_mappings.py reads them).

SpiffWorkflow's call activity copies the caller's data into the called process and, when that ends,
replaces the caller's data with the child's, scratch values and all. A call activity carrying
Camunda `in`/`out` mappings instead hands the child only what its `in` mappings name and adds to the
caller's data only what its `out` mappings name, as Camunda 7 does: a source missing from the data
arrives as None, and expressions are evaluated in the sandbox (`in` over the caller's data, `out`
over the child's). Installed at import by engine/workflows.py, over SpiffWorkflow's own methods.
"""
from copy import deepcopy

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity

_copy_in = CallActivity.copy_data
_copy_out = CallActivity.update_data


def _mapped(mappings, task, data):
    values = {}
    for mapping in mappings:
        if mapping["all"]:
            values.update(data)
        elif mapping["expression"]:
            values[mapping["target"]] = task.workflow.script_engine.evaluate(task, mapping["expression"])
        else:
            values[mapping["target"] or mapping["source"]] = data.get(mapping["source"])
    return deepcopy(values)


def copy_in(spec, my_task, subworkflow):
    mappings = getattr(spec, "call_data", None)
    if mappings is None:
        return _copy_in(spec, my_task, subworkflow)
    start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
    start.set_data(**_mapped(mappings["in"], my_task, my_task.data))


def copy_out(spec, my_task, subworkflow):
    mappings = getattr(spec, "call_data", None)
    if mappings is None:
        return _copy_out(spec, my_task, subworkflow)
    last = subworkflow.last_task
    my_task.data.update(_mapped(mappings["out"], last, last.data))

