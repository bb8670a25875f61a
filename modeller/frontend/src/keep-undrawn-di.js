/**
 * Keep the layout of elements bpmn-js cannot draw.
 *
 * On save, bpmn-js rebuilds every plane from the shapes on the canvas (BpmnDiOrdering), so the
 * diagram interchange of elements it did not draw is dropped: a process that no pool holds,
 * drawn beside the pools of a collaboration (MIWG B.1.0, B.2.0), loses its shapes and edges.
 * Those elements are never on the canvas, so nobody can have moved or deleted them: their
 * original DI is put back after bpmn-js has ordered the planes.
 */
const AFTER_DI_ORDERING = 1500;   // BpmnDiOrdering listens at 2000

export function UndrawnDiKeeper(eventBus, elementRegistry, bpmnjs) {
  let undrawn = [];   // [plane, [di]]

  eventBus.on('import.done', () => {
    const definitions = bpmnjs.getDefinitions();

    undrawn = ((definitions && definitions.diagrams) || [])
      .map((diagram) => diagram.plane)
      .filter(Boolean)
      .map((plane) => [ plane, (plane.planeElement || []).filter((di) => !isDrawn(di)) ])
      .filter(([ , dis ]) => dis.length);
  });

  eventBus.on('saveXML.start', AFTER_DI_ORDERING, () => {
    undrawn.forEach(([ plane, dis ]) => {
      const current = plane.get('planeElement');

      plane.set('planeElement', [ ...current, ...dis.filter((di) => !current.includes(di)) ]);
    });
  });

  function isDrawn(di) {
    return Boolean(di.bpmnElement && elementRegistry.get(di.bpmnElement.id));
  }
}

UndrawnDiKeeper.$inject = [ 'eventBus', 'elementRegistry', 'bpmnjs' ];

export default {
  __init__: [ 'undrawnDiKeeper' ],
  undrawnDiKeeper: [ 'type', UndrawnDiKeeper ]
};
