"""Decision tables evaluated as DMN 1.3 defines the hit policies, and as Camunda 7 hands results back.

SpiffWorkflow's DMN engine returns the first match for every hit policy but COLLECT (so RULE ORDER
loses matches and a violated UNIQUE silently picks one), gives COLLECT's list even when the table
aggregates, and knows no required decisions. `result` below replaces its method (installed at import
by engine/workflows.py); modeller/decisions.py attaches what it reads (`aggregation`, `required`,
`result_variable`). A violated UNIQUE or ANY raises, which the runtime turns into an incident.
"""
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin

_AGGREGATES = {"SUM": sum, "MIN": min, "MAX": max, "COUNT": len}
_SINGLE_HIT = {"UNIQUE", "FIRST", "ANY", "PRIORITY"}
_run_hook = BusinessRuleTaskMixin._run_hook


class DecisionFailed(Exception):
    """The table's hit policy does not hold for the data (two rules match under UNIQUE, say)."""


def _with_required(engine, task, evaluate):
    """Evaluate with the outputs of the decisions this one requires among the data, then drop them."""
    required = getattr(engine, "required", None) or []
    if not required:
        return evaluate()
    saved = task.data
    task.data = dict(saved)
    try:
        for other in required:
            task.data.update(other.result(task))
        return evaluate()
    finally:
        task.data = saved


def matched_outputs(engine, task):
    """The outputs of each rule that matches, in rule order, after the hit policy's checks."""
    def evaluate():
        return [rule for rule in engine.decision_table.rules if engine._DMNEngine__check_rule(rule, task)]
    table = engine.decision_table
    rules = _with_required(engine, task, evaluate)
    outputs = [rule.output_as_dict(task) for rule in rules]
    name = table.name or table.id
    if table.hit_policy == "UNIQUE" and len(rules) > 1:
        raise DecisionFailed(f"decision table {name!r} has hit policy UNIQUE, but rules "
                             f"{', '.join(r.id for r in rules)} all match")
    if table.hit_policy == "ANY" and any(o != outputs[0] for o in outputs):
        raise DecisionFailed(f"decision table {name!r} has hit policy ANY, but the matching rules "
                             f"{', '.join(r.id for r in rules)} give different outputs")
    return outputs[:1] if table.hit_policy in _SINGLE_HIT else outputs


def result(engine, task):
    """The decision's result merged into the task's data: one rule's outputs for single-hit policies,
    each output's list of values for the others, or its aggregate (COLLECT with SUM/MIN/MAX/COUNT)."""
    outputs = matched_outputs(engine, task)
    if engine.decision_table.hit_policy in _SINGLE_HIT:
        return dict(outputs[0]) if outputs else {}
    names = list(dict.fromkeys(name for output in outputs for name in output)) or \
        [o.name or o.label for o in engine.decision_table.outputs]
    lists = {name: [output[name] for output in outputs if name in output] for name in names}
    aggregation = getattr(engine.decision_table, "aggregation", None)
    if aggregation in _AGGREGATES:
        return {name: _AGGREGATES[aggregation](values) if values or aggregation == "COUNT" else None
                for name, values in lists.items()}
    return lists


def _decision_result(engine, task, mapping):
    """The result as Camunda's `mapDecisionResult` shapes it for a `resultVariable`."""
    aggregation = getattr(engine.decision_table, "aggregation", None)
    outputs = [result(engine, task)] if aggregation in _AGGREGATES else matched_outputs(engine, task)
    if mapping == "resultList":
        return [dict(o) for o in outputs]
    if mapping == "collectEntries":
        return [next(iter(o.values()), None) for o in outputs]
    if len(outputs) > 1:
        raise DecisionFailed(f"{mapping} expects at most one matching rule, but {len(outputs)} match")
    if mapping == "singleResult":
        return dict(outputs[0]) if outputs else None
    return next(iter(outputs[0].values()), None) if outputs else None      # singleEntry


def run_hook(spec, my_task):
    """Camunda's `resultVariable`: the result goes into that one variable instead of the data."""
    target = getattr(spec, "result_variable", None)
    if target is None:
        return _run_hook(spec, my_task)
    name, mapping = target
    my_task.data[name] = _decision_result(spec.dmnEngine, my_task, mapping)
    return True

