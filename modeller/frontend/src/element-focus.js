/**
 * Bring an element into view and select it: switch to the plane that holds it
 * (collapsed sub-processes), scroll to it and select it.
 *
 * @param {import('bpmn-js/lib/Modeler').default} bpmnjs
 * @param {string} elementId
 *
 * @return {boolean} whether the element exists in the diagram
 */
export function focusElement(bpmnjs, elementId) {
  const elementRegistry = bpmnjs.get('elementRegistry');
  const canvas = bpmnjs.get('canvas');

  const element = elementId && elementRegistry.get(elementId);

  if (!element) {
    return false;
  }

  const root = canvas.findRoot(element);

  if (root && root !== canvas.getRootElement()) {
    canvas.setRootElement(root);
  }

  if (element === canvas.getRootElement()) {
    return true;
  }

  canvas.scrollToElement(element, { top: 100, bottom: 100, left: 100, right: 100 });

  const selection = bpmnjs.get('selection', false);

  if (selection) {
    selection.select(element);
  }

  return true;
}
