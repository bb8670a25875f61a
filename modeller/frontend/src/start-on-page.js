/**
 * Run `start(root)` once the page has loaded, if the page holds the element with id `rootId`:
 * each bundle is loaded with `defer` on pages that may or may not use it.
 */
export function startOnPage(rootId, start) {
  const init = () => {
    const root = document.getElementById(rootId);

    if (root) {
      start(root);
    }
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}
