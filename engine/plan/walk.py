"""Which steps lie ahead: a walk over the process graph of the stored spec, never a run of the workflow.

At a gateway the walk follows, in this order: the path the instance already took there; the conditions
the current data decides; the default flow. Flows that lead back to a step already on the walk are
loops and count once (they are not followed again). Branches the data cannot decide yet are followed
too, and everything only they reach is `undecided`.
"""
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.control import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway

from .. import sandbox


@dataclass
class Node:
    """One element reached by the walk, with the elements it is reached from."""
    name: str
    spec: object
    before: list = field(default_factory=list)
    undecided: bool = False


def decide(condition, data):
    """True or False when the data decides a condition, None when it cannot yet (a field not filled in)."""
    try:
        return bool(sandbox.run(condition, dict(data)))
    except Exception:   # noqa: BLE001 - an unknown name or a type error means: not decidable now
        return None


def _choose(process, spec, forward, data, was_taken):
    """The flows the walk follows out of `spec`, as (target, undecided). Boundary events are exceptions,
    not the plan: the walk goes on with the step they are attached to."""
    if isinstance(spec, (ExclusiveGateway, InclusiveGateway)) and getattr(spec, "cond_task_specs", None):
        return _gateway(spec, forward, data, was_taken)
    targets = [name for name in forward if not isinstance(process.task_specs[name], BoundaryEvent)]
    if isinstance(spec, EventBasedGateway) and len(targets) > 1:
        return [(name, True) for name in targets]
    return [(name, False) for name in targets]


def _gateway(spec, forward, data, was_taken):
    candidates = [(condition, target) for condition, target in spec.cond_task_specs if target in forward]
    gone = [target for _, target in candidates if was_taken(target)]
    if gone:
        return [(target, False) for target in gone]
    if len(candidates) <= 1:
        return [(target, False) for _, target in candidates]
    verdicts = [(decide(condition.args[0], data) if condition is not None else "default", target)
                for condition, target in candidates]
    chosen = [target for verdict, target in verdicts if verdict is True]
    if chosen:
        return [(target, False) for target in (chosen[:1] if isinstance(spec, ExclusiveGateway) else chosen)]
    open_ = [target for verdict, target in verdicts if verdict is None]
    default = [target for verdict, target in verdicts if verdict == "default"]
    if not open_:
        return [(target, False) for target in default]
    return [(target, True) for target in open_ + default]


def walk(spec, data, was_taken):
    """The elements ahead in flow order (each after everything it is reached from); `was_taken(name)` says
    whether the instance already went down the flow into element `name`."""
    nodes, order, on_path = {}, [], set()
    edges = {}

    def enter(name):
        nodes[name] = Node(name, spec.task_specs[name])
        order.append(name)
        on_path.add(name)
        forward = [output.name for output in spec.task_specs[name].outputs if output.name not in on_path]
        edges[name] = _choose(spec, spec.task_specs[name], forward, data, was_taken)
        return name, iter(edges[name])

    stack = [enter(spec.start.name)]   # depth first, without recursion: a long process is a deep path
    while stack:
        name, outgoing = stack[-1]
        target = next((target for target, _ in outgoing if target not in nodes), None)
        if target is None:
            on_path.discard(name)
            stack.pop()
        else:
            stack.append(enter(target))
    for name, outgoing in edges.items():
        for target, undecided in outgoing:
            nodes[target].before.append((name, undecided))
    return _in_flow_order(nodes, order)


def _in_flow_order(nodes, order):
    """Topological order (ties by discovery), marking what only undecided branches reach."""
    rank = {name: n for n, name in enumerate(order)}
    waiting = {name: len(node.before) for name, node in nodes.items()}
    after = {name: [] for name in nodes}
    for name, node in nodes.items():
        for before, _ in node.before:
            after[before].append(name)
    ready, result = [order[0]], []
    while ready:
        ready.sort(key=rank.get)
        name = ready.pop(0)
        node = nodes[name]
        node.undecided = bool(node.before) and all(undecided or nodes[before].undecided
                                                   for before, undecided in node.before)
        result.append(node)
        for target in after[name]:
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return result
