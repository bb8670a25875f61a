/**
 * The palette with the keyboard alone: each entry is a button one Tab away (named by its title), and
 * Enter or Space on a "Create …" entry puts that element on the diagram — appended after the selected
 * step and connected to it (as the context pad's append does), or else in the middle of the view —
 * then selects it and hands the focus to the canvas, where the arrow keys move it and `A` appends
 * the next one. (A mouse drags from the palette instead; the tools at the top stay mouse tools.)
 */

const CREATES = {
  'create.start-event': { type: 'bpmn:StartEvent' },
  'create.intermediate-event': { type: 'bpmn:IntermediateThrowEvent' },
  'create.end-event': { type: 'bpmn:EndEvent' },
  'create.exclusive-gateway': { type: 'bpmn:ExclusiveGateway' },
  'create.task': { type: 'bpmn:Task' },
  'create.data-object': { type: 'bpmn:DataObjectReference' },
  'create.data-store': { type: 'bpmn:DataStoreReference' },
  'create.subprocess-expanded': { type: 'bpmn:SubProcess', isExpanded: true },
  'create.group': { type: 'bpmn:Group' }
};

function PaletteKeyboard(eventBus, canvas, elementFactory, modeling, autoPlace, selection, elementRegistry, palette) {
  function makeFocusable() {
    const entries = palette.getEntries();

    document.querySelectorAll('.djs-palette .entry[data-action]').forEach((entry) => {
      const known = entries[entry.dataset.action];

      entry.setAttribute('tabindex', '0');
      entry.setAttribute('role', 'button');
      entry.setAttribute('aria-label', (known && known.title) || entry.dataset.action);
    });
  }

  function place(action) {
    const shape = action === 'create.participant-expanded'
      ? elementFactory.createParticipantShape()
      : elementFactory.createShape({ ...CREATES[action] });
    const [ selected ] = selection.get();
    const flowNode = selected && !selected.waypoints && selected.businessObject.$instanceOf('bpmn:FlowNode');
    let created;

    if (flowNode && shape.businessObject.$instanceOf('bpmn:FlowNode')) {
      created = autoPlace.append(selected, shape);
    } else {
      const view = canvas.viewbox();
      const center = { x: Math.round(view.x + view.width / 2), y: Math.round(view.y + view.height / 2) };
      const root = canvas.getRootElement();
      const parent = root.businessObject.$instanceOf('bpmn:Collaboration') && !shape.businessObject.$instanceOf('bpmn:Participant')
        ? elementRegistry.find((e) => e.type === 'bpmn:Participant') || root
        : root;

      created = modeling.createShape(shape, center, parent);
    }

    selection.select(created);
    canvas.focus();
  }

  eventBus.on([ 'import.done', 'palette.changed' ], () => {
    setTimeout(makeFocusable, 0);   // a listener that returns a value would stop the event for the others
  });

  document.addEventListener('keydown', (event) => {
    const entry = event.target.closest && event.target.closest('.djs-palette .entry[data-action]');

    if (!entry || (event.key !== 'Enter' && event.key !== ' ')) {
      return;
    }

    event.preventDefault();

    if (CREATES[entry.dataset.action] || entry.dataset.action === 'create.participant-expanded') {
      place(entry.dataset.action);
    } else {
      entry.click();
    }
  });
}

PaletteKeyboard.$inject = [
  'eventBus', 'canvas', 'elementFactory', 'modeling', 'autoPlace', 'selection', 'elementRegistry', 'palette'
];

export default {
  __init__: [ 'paletteKeyboard' ],
  paletteKeyboard: [ 'type', PaletteKeyboard ]
};
