"""Every change Baton makes to SpiffWorkflow's own classes, in one place, for the one version they
were written against.

SpiffWorkflow is pinned (`pyproject.toml`); each line of `PATCHES` replaces one method or value of
that version. The replacement lives in the module of the domain it serves, whose docstring says what
SpiffWorkflow does there and why Baton does otherwise. Importing this module applies them all, once;
on any other SpiffWorkflow version it fails at once, so nobody runs patches written for code that
has changed: read each replaced method in the new version first, then raise `PINNED` with the pin.
"""
from importlib.metadata import version

from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity, EventSubprocess
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.dmn.engine import DMNEngine as dmn_engine_module
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.util.task import TaskIterator

from . import bounds, call_data, cron, dmn, event_subprocesses, joins, multi_instance, signal_relay, waiting

PINNED = "3.2.0"
MAX_TREE_DEPTH = 1_000_000   # SpiffWorkflow's task iterators stop at depth 1,000: a 600-round loop loses its tasks

if version("SpiffWorkflow") != PINNED:
    raise ImportError(f"Baton's patches are written for SpiffWorkflow {PINNED}, but {version('SpiffWorkflow')} is "
                      "installed: check each patch in engine/spiff_patches.py against it before changing the pin")


def _deeper(iterator):
    defaults = list(iterator.__init__.__defaults__)
    defaults[defaults.index(1000)] = MAX_TREE_DEPTH
    return tuple(defaults)


PATCHES = [   # (owner, attribute, replacement): what each replacement fixes is in its own docstring
    # bounds: timers and fan-out from data are bounded; DMN input entries are prepared in linear time
    (TimerEventDefinition, "parse_iso_duration", staticmethod(bounds.bounded_duration)),
    (TimerEventDefinition, "get_datetime", staticmethod(bounds.bounded_datetime)),
    (TimerEventDefinition, "parse_iso_recurring_interval", staticmethod(bounds.bounded_cycle)),
    (TimeDateEventDefinition, "has_fired", bounds.naming_the_timer(TimeDateEventDefinition.has_fired)),
    (DurationTimerEventDefinition, "has_fired", bounds.naming_the_timer(DurationTimerEventDefinition.has_fired)),
    (CycleTimerEventDefinition, "cycle_complete", bounds.naming_the_timer(cron.cycle_complete)),   # and cron
    (MultiInstanceTask, "create_child", bounds.bounded_create_child),
    (dmn_engine_module, "re", bounds.LinearSub),
    # waiting: timers read Baton's clock, so tests and the plan can move time
    (timer_module, "datetime", waiting.ClockedDatetime),
    # signal_relay: a thrown signal also reaches the instances waiting elsewhere
    (SignalEventDefinition, "throw", signal_relay.throw_and_note),
    # multi_instance, call_data, dmn, event_subprocesses, joins: data flows as the diagram's author meant
    (MultiInstanceTask, "merge_child", multi_instance.merge_with_results),
    (CallActivity, "copy_data", call_data.copy_in),
    (CallActivity, "update_data", call_data.copy_out),
    (DMNEngine, "result", dmn.result),
    (BusinessRuleTaskMixin, "_run_hook", dmn.run_hook),
    (EventSubprocess, "update_data", event_subprocesses.share_data),
    (UnstructuredJoin, "_run_hook", joins.merging_run_hook),
    # workflows: loops of any length keep their tasks
    (TaskIterator.__init__, "__defaults__", _deeper(TaskIterator)),
    (BpmnTaskIterator.__init__, "__defaults__", _deeper(BpmnTaskIterator)),
]

for owner, attribute, replacement in PATCHES:
    setattr(owner, attribute, replacement)
