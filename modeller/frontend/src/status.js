/**
 * Write short messages into the status element (`#save-status`, role=status).
 * The kind ends up in `data-state` for styling: busy, saved, dirty, error.
 *
 * @param {HTMLElement|null} element
 * @return {(text: string, kind?: string) => void}
 */
export function createStatus(element) {
  return function setStatus(text, kind = '') {
    if (!element) {
      return;
    }

    element.textContent = text;
    element.dataset.state = kind;
  };
}
