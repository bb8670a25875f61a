/**
 * Naming a new diagram on its first save: a dialog asks for the process name (a diagram drawn in the
 * browser would otherwise be saved as `diagram.bpmn`, named "diagram"); the process id and the file
 * name are derived from it, so `Blog post launch` becomes `blog_post_launch` and
 * `blog_post_launch.bpmn`.
 */

/**
 * @param {string} name what people call the process
 * @param {string[]} [taken] process ids already deployed: a new diagram must not become a new version
 *   of someone else's process, so `content_calendar` becomes `content_calendar_2`
 * @return {string} an XML NCName usable as process id and file name
 */
export function idFromName(name, taken = []) {
  const base = slugOf(name);
  let id = base;

  for (let n = 2; taken.includes(id); n++) {
    id = `${base}_${n}`;
  }

  return id;
}

function slugOf(name) {
  const slug = String(name)
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '')
    .slice(0, 60);

  if (!slug) {
    return 'process';
  }

  return /^[a-z_]/.test(slug) ? slug : `process_${slug}`;
}

/**
 * The process a diagram runs: the root process, or the first pool's.
 * @return {{ element: object, process: object }|null}
 */
function mainProcess(modeler) {
  const root = modeler.get('canvas').getRootElement();
  const bo = root.businessObject;

  if (bo.$type === 'bpmn:Process') {
    return { element: root, process: bo };
  }

  const pool = modeler.get('elementRegistry').find((e) => e.type === 'bpmn:Participant' && e.businessObject.processRef);

  return pool ? { element: pool, process: pool.businessObject.processRef } : null;
}

/** The process name the diagram already has, unless it is the placeholder "diagram". */
export function currentName(modeler) {
  const found = mainProcess(modeler);
  const name = found && (found.process.name || '').trim();

  return name && name.toLowerCase() !== 'diagram' ? name : '';
}

/** Give the diagram's process `name` and the id derived from it (undoable like any edit). */
export function applyName(modeler, name, taken = []) {
  const found = mainProcess(modeler);

  if (!found) {
    return;
  }

  const modeling = modeler.get('modeling');
  const properties = { name, id: idFromName(name, taken) };

  if (found.element.businessObject === found.process) {
    modeling.updateProperties(found.element, properties);
  } else {
    modeling.updateModdleProperties(found.element, found.process, properties);
  }
}

/**
 * Ask for a name in the page's `<dialog>`; resolves to the trimmed name, or null when cancelled
 * (Escape or the Cancel button).
 */
export function askName(dialog, suggestion) {
  const input = dialog.querySelector('input');
  const form = dialog.querySelector('form');

  input.value = suggestion || '';

  return new Promise((resolve) => {
    function done(value) {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('close', onClose);
      resolve(value);
    }

    function onSubmit(event) {
      const value = input.value.trim();

      if (event.submitter && event.submitter.value === 'cancel') {
        return;   // the dialog closes; onClose answers
      }

      if (!value) {
        event.preventDefault();
        input.setCustomValidity('Give the process a name');
        input.reportValidity();
        return;
      }

      input.setCustomValidity('');
      done(value);
    }

    function onClose() {
      done(null);
    }

    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    input.focus();
  });
}
