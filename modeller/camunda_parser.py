"""SpiffWorkflow's Camunda parser, with event subprocesses.

Its subprocess parser makes every `subProcess` a plain embedded subprocess, `triggeredByEvent`
or not: an event subprocess then never starts (its message or signal start event is never waited
for). The base BPMN parser knows them; here the Camunda one does too.
"""
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.task_parsers import SubprocessParser
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, EventSubprocess
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import SubWorkflowParser


class _SubprocessParser(SubWorkflowParser):

    def create_task(self):
        spec_class = EventSubprocess if self.node.get("triggeredByEvent") == "true" else self.spec_class
        return spec_class(self.spec, self.bpmn_id, subworkflow_spec=SubprocessParser.get_subprocess_spec(self),
                          **self.bpmn_attributes)


class BatonCamundaParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {**CamundaParser.OVERRIDE_PARSER_CLASSES,
                               full_tag("subProcess"): (_SubprocessParser, CallActivity)}
