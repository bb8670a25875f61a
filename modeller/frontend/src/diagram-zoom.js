/**
 * Zoom controls for a read-only diagram: zoom in, zoom out, fit to width and
 * show the current step, as buttons (reachable with the keyboard) above the
 * canvas. Dragging pans and the mouse wheel zooms, as NavigatedViewer does.
 *
 * A seven-lane process drawn to fit a 1440 px page is too small to read:
 * the page opens fitted to the width and centred on the current step.
 */
const STEP = 1.25;

/**
 * @param {object} viewer a bpmn-js viewer with a diagram imported
 * @param {HTMLElement} root the element the toolbar goes before the canvas in
 * @param {HTMLElement} container the canvas container
 * @return {{ fitWidth: Function, showCurrent: Function }}
 */
export function addZoomControls(viewer, root, container) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');

  function fitWidth() {
    const box = canvas.viewbox();
    const inner = box.inner;

    if (!inner.width) {
      return;
    }

    const scale = Math.min(2, (container.clientWidth - 20) / inner.width);

    canvas.zoom(scale);
    canvas.viewbox({ ...canvas.viewbox(), x: inner.x - 10 / scale, y: inner.y - 10 / scale });
  }

  function showCurrent() {
    const current = registry.filter(element => canvas.hasMarker(element, 'baton-active') ||
      canvas.hasMarker(element, 'baton-failed'));

    if (!current.length) {
      return false;
    }

    const { x, y, width, height } = current[0];
    const box = canvas.viewbox();

    canvas.viewbox({ ...box, x: x + width / 2 - box.width / 2, y: y + height / 2 - box.height / 2 });

    return true;
  }

  const buttons = [
    [ 'Zoom in', 'zoom-in', () => canvas.zoom(canvas.zoom() * STEP) ],
    [ 'Zoom out', 'zoom-out', () => canvas.zoom(canvas.zoom() / STEP) ],
    [ 'Fit to width', 'fit-width', fitWidth ],
    [ 'Show the current step', 'current-step', showCurrent ]
  ];

  const bar = document.createElement('div');

  bar.className = 'baton-zoom';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Diagram view');

  for (const [ label, name, action ] of buttons) {
    const button = document.createElement('button');

    button.type = 'button';
    button.textContent = label;
    button.dataset.zoom = name;
    button.addEventListener('click', () => action());
    bar.appendChild(button);
  }

  root.insertBefore(bar, container);

  return { fitWidth, showCurrent };
}
