"""A signal thrown by one instance reaches every instance waiting for it, as in Camunda.

SpiffWorkflow delivers a thrown signal inside the throwing workflow only (one it cannot catch is
left in `get_events()` for the host). Here every signal a workflow throws is noted on it (`throw`
wraps SpiffWorkflow's), and once the thrower's change is committed `pass_on` broadcasts each one to
the other instances waiting for it, each in its own change, as `POST /signals` does (without data:
a Camunda signal carries none unless mapped). A signal handed on causes at most MAX_RELAYS further
rounds, so two processes that signal each other forever stop.
"""
import contextvars

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition

MAX_RELAYS = 10
_depth = contextvars.ContextVar("signal_relay_depth", default=0)
_throw = SignalEventDefinition.throw


def throw_and_note(definition, my_task):
    _throw(definition, my_task)
    top = my_task.workflow.top_workflow
    top.__dict__.setdefault("baton_thrown_signals", []).append(definition.name)


def pass_on(session, instance_id, workflow):
    """Broadcast the signals `workflow` (of instance `instance_id`) threw to the other waiting instances."""
    from .messages import relay  # messages builds on instances, which calls this after every change
    thrown = workflow.__dict__.pop("baton_thrown_signals", [])
    if not thrown or _depth.get() >= MAX_RELAYS:
        return
    token = _depth.set(_depth.get() + 1)
    try:
        for name in dict.fromkeys(thrown):
            relay(session, name, instance_id)
    finally:
        _depth.reset(token)

