/**
 * Open a local .bpmn file: through the file input (`#open-file`) or by
 * dropping it onto the canvas.
 *
 * @param {{ input?: HTMLInputElement|null, dropZone?: HTMLElement|null,
 *   openFile: (file: File) => Promise<any> }} options
 */
export function setupFileOpen({ input, dropZone, openFile }) {
  if (input) {
    input.addEventListener('change', () => {
      const file = input.files && input.files[0];

      // reset so that choosing the same file again fires `change`
      const done = () => { input.value = ''; };

      if (file) {
        openFile(file).then(done, done);
      }
    });
  }

  if (!dropZone) {
    return;
  }

  const hasFiles = (event) =>
    event.dataTransfer && Array.from(event.dataTransfer.types || []).includes('Files');

  let depth = 0;

  dropZone.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) {
      return;
    }

    depth++;
    dropZone.classList.add('baton-drop-target');
  });

  dropZone.addEventListener('dragleave', (event) => {
    if (!hasFiles(event)) {
      return;
    }

    depth = Math.max(0, depth - 1);

    if (!depth) {
      dropZone.classList.remove('baton-drop-target');
    }
  });

  dropZone.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) {
      return;
    }

    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });

  dropZone.addEventListener('drop', (event) => {
    if (!hasFiles(event)) {
      return;
    }

    event.preventDefault();
    event.stopPropagation();

    depth = 0;
    dropZone.classList.remove('baton-drop-target');

    const file = event.dataTransfer.files[0];

    if (file) {
      openFile(file);
    }
  });
}
