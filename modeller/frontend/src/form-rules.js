/**
 * A form field's rules as boxes to tick and fill, not a constraint list to type: for each
 * `camunda:formField` of the selected step, a "Rules: <label>" group with *Required*, the lengths of a
 * text, the smallest and largest number or date, and *Required when* (`approved = false`, Baton's own).
 * Each writes the standard `camunda:validation` constraint (`required`, `minlength`, `maxlength`, `min`,
 * `max`, `required_when`) that Camunda Modeler reads too; the server checks the same rules
 * (engine/forms.py). Undo takes a change back whole.
 */
import { CheckboxEntry, TextFieldEntry } from '@bpmn-io/properties-panel';

const LOW_PRIORITY = 90;
const TEXT = [ [ 'minlength', 'At least (characters)' ], [ 'maxlength', 'At most (characters)' ] ];
const RANGE = [ [ 'min', 'Smallest' ], [ 'max', 'Largest' ] ];
const RANGE_TYPES = new Set([ 'long', 'double', 'date' ]);

function fieldsOf(element) {
  const extensions = element.businessObject.extensionElements;
  const formData = extensions && (extensions.values || []).find((v) => v.$type === 'camunda:FormData');

  return formData ? formData.fields || [] : [];
}

function FormRules(propertiesPanel, bpmnFactory, commandStack, debounceInput) {
  this._services = { bpmnFactory, commandStack, debounceInput };
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}

FormRules.$inject = [ 'propertiesPanel', 'bpmnFactory', 'commandStack', 'debounceInput' ];

FormRules.prototype.getGroups = function(element) {
  return (groups) => {
    const fields = fieldsOf(element);

    if (!fields.length) {
      return groups;
    }

    const after = groups.findIndex((group) => group.id === 'CamundaPlatform__FormData');
    const added = fields.filter((field) => field.id).map((field) => this._group(element, field));

    groups.splice(after < 0 ? groups.length : after + 1, 0, ...added);

    return groups;
  };
};

FormRules.prototype._group = function(element, field) {
  const type = field.type || 'string';
  const named = [ ...(type === 'string' || type === 'textarea' ? TEXT : []), ...(RANGE_TYPES.has(type) ? RANGE : []),
    [ 'required_when', 'Required when (e.g. approved = false)' ] ];
  const prefix = `baton-rule-${field.id}`;
  const entries = [ {
    id: `${prefix}-required`,
    component: (props) => CheckboxEntry({
      element: props.element, id: props.id, label: 'Required',
      getValue: () => this._constraint(field, 'required') !== undefined,
      setValue: (on) => this._set(element, field, 'required', on ? '' : undefined)
    })
  } ];

  for (const [ name, label ] of named) {
    entries.push({
      id: `${prefix}-${name}`,
      component: (props) => TextFieldEntry({
        element: props.element, id: props.id, label, debounce: this._services.debounceInput,
        getValue: () => this._constraint(field, name) || '',
        setValue: (value) => this._set(element, field, name, (value || '').trim() || undefined)
      })
    });
  }

  return { id: `BatonRules_${field.id}`, label: `Rules: ${field.label || field.id}`, entries };
};

FormRules.prototype._constraint = function(field, name) {
  const found = field.validation && (field.validation.constraints || []).find((c) => c.name === name);

  return found ? (found.config || '') : undefined;
};

/** Set (a text, '' for a bare rule) or remove (undefined) the constraint `name` of `field`. */
FormRules.prototype._set = function(element, field, name, config) {
  const { bpmnFactory, commandStack } = this._services;
  const commands = [];
  let validation = field.validation;

  if (!validation) {
    validation = bpmnFactory.create('camunda:Validation', { constraints: [] });
    validation.$parent = field;
    commands.push({ cmd: 'element.updateModdleProperties', context: {
      element, moddleElement: field, properties: { validation } } });
  }

  const kept = (validation.constraints || []).filter((c) => c.name !== name);

  if (config !== undefined) {
    const constraint = bpmnFactory.create('camunda:Constraint', { name, config: config || undefined });

    constraint.$parent = validation;
    kept.push(constraint);
  }

  commands.push({ cmd: 'element.updateModdleProperties', context: {
    element, moddleElement: validation, properties: { constraints: kept } } });
  commandStack.execute('properties-panel.multi-command-executor', commands);
};

export default {
  __init__: [ 'formRules' ],
  formRules: [ 'type', FormRules ]
};
