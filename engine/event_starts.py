"""Processes started by a message, as in Camunda and SpiffArena: a message that no running instance
waits for starts a new instance of each process whose start event catches it, the message's data
becoming the instance's first data. The instance is started by whoever sent the message (the
integration account), then handed the message like any waiting instance."""
from SpiffWorkflow.bpmn.specs.defaults import StartEvent

from . import definitions, instances


def _starts_on(spec, kind, name):
    return any(isinstance(task_spec, StartEvent) and type(task_spec.event_definition).__name__ == kind
               and getattr(task_spec.event_definition, "name", None) == name for task_spec in spec.start.outputs)


def processes_started_by(session, kind, name):
    """The newest executable versions whose top-level start event catches `kind` (a definition's class
    name) named `name`."""
    return [version for version in definitions.startable(session)
            if _starts_on(definitions.bundle_of(session, version.definition_id).specs[version.key][0], kind, name)]


def start_on_message(session, actor, name, deliver):
    """Start an instance of each process a message `name` starts; `deliver(instance)` then hands it the
    message. Return the new instances' ids."""
    started = []
    for version in processes_started_by(session, "MessageEventDefinition", name):
        instance = instances.get(session, instances.start(session, version.key, {}, actor).id)
        if deliver(instance):
            started.append(instance.id)
    return started
