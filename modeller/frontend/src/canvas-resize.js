/**
 * diagram-js caches the canvas size and only refreshes it on window resize.
 * Tell it when the container itself changes size (problem list growing,
 * panels being resized by the page layout).
 *
 * @param {import('bpmn-js/lib/BaseViewer').default} bpmnjs
 * @param {HTMLElement} container
 */
export function observeCanvasResize(bpmnjs, container) {
  if (!container || typeof ResizeObserver === 'undefined') {
    return;
  }

  let frame = null;

  new ResizeObserver(() => {
    if (frame) {
      return;
    }

    frame = requestAnimationFrame(() => {
      frame = null;
      bpmnjs.get('canvas').resized();
    });
  }).observe(container);
}
