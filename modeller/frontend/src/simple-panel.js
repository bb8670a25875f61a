/**
 * A properties panel that shows what Baton runs: who does a step and by when, its form, instructions,
 * conditions, timers, messages, estimate and reminders. Camunda's engine settings (asynchronous
 * continuations, job execution, history clean-up, listeners, input/output mappings, ...) are one
 * click away behind "Show all properties" (`button#panel-mode`); what either mode writes stays
 * standard Camunda 7 attributes, so files still open in Camunda Modeler.
 */

const SHOWN = new Set([
  'general', 'documentation', 'message', 'signal', 'link', 'timer', 'error', 'escalation', 'multiInstance',
  'condition', 'CamundaPlatform__UserAssignment', 'CamundaPlatform__Form', 'CamundaPlatform__FormData',
  'CamundaPlatform__Condition', 'CamundaPlatform__Script', 'CamundaPlatform__CallActivity',
  'CamundaPlatform__Implementation', 'CamundaPlatform__Errors', 'CamundaPlatform__ExtensionProperties'
]);
const LOW_PRIORITY = 100;   // after the BPMN and Camunda providers have made their groups

function SimplePanel(propertiesPanel, eventBus) {
  this.expert = false;
  this._eventBus = eventBus;
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}

SimplePanel.$inject = [ 'propertiesPanel', 'eventBus' ];

SimplePanel.prototype.getGroups = function() {
  return (groups) => (this.expert ? groups : groups.filter((group) => SHOWN.has(group.id)));
};

/** Show every property (`true`) or only Baton's (`false`). */
SimplePanel.prototype.setExpert = function(expert) {
  this.expert = expert;
  this._eventBus.fire('propertiesPanel.providersChanged');
};

/** Wire the page's toggle button to the panel. */
export function setupPanelMode(modeler, button) {
  if (!button) {
    return;
  }

  const panel = modeler.get('simplePanel');

  button.addEventListener('click', () => {
    const expert = !panel.expert;

    panel.setExpert(expert);
    button.setAttribute('aria-pressed', String(expert));
    button.textContent = expert ? 'Show Baton’s properties only' : 'Show all properties';
  });
}

export default {
  __init__: [ 'simplePanel' ],
  simplePanel: [ 'type', SimplePanel ]
};
