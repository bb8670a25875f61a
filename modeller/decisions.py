"""DMN files as Camunda 7 reads them: several decisions per file, aggregations, result variables.

SpiffWorkflow's DMN parser takes one decision per file (a decision requirement graph fails with a
bare AttributeError), ignores a COLLECT table's `aggregation`, and merges every output into the
task's data whatever the business rule task's `camunda:resultVariable` says. Here each decision of
a file is handed to the parser as a file of its own, and what the parser leaves out is attached to
the built objects; engine/dmn.py evaluates with it.
"""
import copy

from .reader import BPMN_NS, CAMUNDA_NS

_MAP_DECISION_RESULTS = {"singleEntry", "singleResult", "collectEntries", "resultList"}


def _decisions(root):
    return [node for node in root if str(node.tag).endswith("}decision")]


def split(root):
    """One tree per decision of the DMN document `root`, each holding only that decision."""
    decisions = _decisions(root)
    if len(decisions) <= 1:
        return [root]
    pieces = []
    for keep in range(len(decisions)):
        piece = copy.deepcopy(root)
        for index, node in enumerate(_decisions(piece)):
            if index != keep:
                piece.remove(node)
        pieces.append(piece)
    return pieces


def required(root):
    """{decision id: [ids of the decisions it requires]} of a DMN document."""
    found = {}
    for decision in _decisions(root):
        found[decision.get("id")] = [node.get("href", "").lstrip("#") for node in decision.iter("{*}requiredDecision")]
    return found


def aggregations(root):
    """{decision table id: SUM, MIN, MAX or COUNT} for COLLECT tables that aggregate."""
    return {table.get("id"): table.get("aggregation").upper()
            for table in root.iter("{*}decisionTable") if table.get("aggregation")}


def result_variables(root):
    """{business rule task id: (result variable, how the result is mapped)} of a BPMN document."""
    found = {}
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        variable = (task.get(f"{{{CAMUNDA_NS}}}resultVariable") or "").strip()
        if variable:
            mapping = task.get(f"{{{CAMUNDA_NS}}}mapDecisionResult") or "resultList"
            found[task.get("id")] = (variable, mapping if mapping in _MAP_DECISION_RESULTS else "resultList")
    return found


def attach(parser, specs, documents):
    """Give the built decision engines their aggregation and required decisions, and business rule
    task specs their result variable (`result_variable`: (name, mapping))."""
    dmn = [d.root for d in documents if d.kind == "dmn"]
    aggregation = {k: v for root in dmn for k, v in aggregations(root).items()}
    requires = {k: v for root in dmn for k, v in required(root).items()}
    owner = {table.get("id"): decision.get("id") for root in dmn for decision in _decisions(root)
             for table in decision.iter("{*}decisionTable")}
    variables = {k: v for d in documents if d.kind == "bpmn" for k, v in result_variables(d.root).items()}

    def prepare(engine, seen=()):
        table = engine.decision_table
        table.aggregation = aggregation.get(table.id)
        decision_id = owner.get(table.id)
        engine.required = [prepare(parser.get_engine(name, None), (*seen, decision_id))
                           for name in requires.get(decision_id, []) if name not in seen and name in parser.dmn_parsers]
        return engine

    for spec, called in specs.values():
        for process_spec in (spec, *called.values()):
            for task_spec in process_spec.task_specs.values():
                if hasattr(task_spec, "dmnEngine"):
                    prepare(task_spec.dmnEngine)
                    task_spec.result_variable = variables.get(task_spec.bpmn_id)
