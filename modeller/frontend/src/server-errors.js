import { renderProblems } from './problem-list';

const MARKER = 'baton-server-error';
const OVERLAY_TYPE = 'baton-server-error';

/**
 * Show validation errors returned by the server when saving:
 * a red marker plus a message badge on each element the server names,
 * and every error in the `#server-problems` list.
 *
 * @param {import('bpmn-js/lib/Modeler').default} modeler
 * @param {HTMLElement|null} list
 */
export function createServerErrors(modeler, list) {
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const elementRegistry = modeler.get('elementRegistry');

  let marked = [];

  function clear() {
    for (const id of marked) {
      if (elementRegistry.get(id)) {
        canvas.removeMarker(id, MARKER);
      }
    }

    marked = [];
    overlays.remove({ type: OVERLAY_TYPE });

    if (list) {
      renderProblems(list, [], modeler);
    }
  }

  /**
   * @param {Array<{ message: string, element_id?: string|null, line?: number|null }>} errors
   */
  function show(errors) {
    clear();

    const messagesById = new Map();

    for (const error of errors) {
      const id = error.element_id;

      if (id && elementRegistry.get(id)) {
        messagesById.set(id, [ ...(messagesById.get(id) || []), String(error.message) ]);
      }
    }

    for (const [ id, messages ] of messagesById) {
      canvas.addMarker(id, MARKER);
      marked.push(id);

      const badge = document.createElement('div');

      badge.className = 'baton-server-error-badge';
      badge.textContent = messages.length > 1 ? `${messages[0]} (+${messages.length - 1} more)` : messages[0];
      badge.title = messages.join('\n');

      overlays.add(id, OVERLAY_TYPE, {
        position: { top: -26, left: 12 },
        html: badge
      });
    }

    if (list) {
      renderProblems(list, errors.map((error) => ({
        elementId: error.element_id || null,
        line: error.line ?? null,
        message: String(error.message),
        category: 'error'
      })), modeler);
    }
  }

  // a new diagram (file open) makes old errors meaningless
  modeler.get('eventBus').on('diagram.clear', () => {
    marked = [];

    if (list) {
      renderProblems(list, [], modeler);
    }
  });

  return { show, clear };
}
