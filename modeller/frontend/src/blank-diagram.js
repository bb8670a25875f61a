/**
 * The diagram a new model starts from: one executable process with a start event.
 */

function escapeXml(text) {
  return String(text).replace(/[<>&"']/g, (c) => ({
    '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', '\'': '&apos;'
  })[c]);
}

function randomId() {
  return Math.random().toString(36).slice(2, 9);
}

/**
 * @param {string} [name] process name
 * @return {string} BPMN 2.0 XML
 */
export function blankDiagram(name) {
  const processId = 'Process_' + randomId();
  const nameAttr = name ? ` name="${escapeXml(name)}"` : '';

  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_${randomId()}" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Baton" exporterVersion="1">
  <bpmn:process id="${processId}"${nameAttr} isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="${processId}">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
`;
}
