import { exportXml } from './xml-export';

/**
 * Save the diagram: POST the XML to the server and report the outcome.
 *
 * Request:  POST <saveUrl>, body = XML, Content-Type: application/xml,
 *           X-CSRFToken: <csrfToken>, credentials: same-origin.
 * Response: 200/201 {"id", "version", "url"[, "save_url"]}
 *           4xx     {"errors": [{"message", "element_id", "line"}]}
 */
export function createSave({ modeler, saveUrl, csrfToken, serverErrors, setStatus }) {
  let currentSaveUrl = saveUrl;

  async function save() {
    serverErrors.clear();
    setStatus('Saving…', 'busy');

    let xml;

    try {
      xml = await exportXml(modeler);
    } catch (error) {
      setStatus(`Could not export the diagram: ${error.message}`, 'error');
      return { ok: false, error: error.message };
    }

    const headers = {
      'Content-Type': 'application/xml',
      'Accept': 'application/json'
    };

    if (csrfToken) {
      headers['X-CSRFToken'] = csrfToken;
    }

    let response;

    try {
      response = await fetch(currentSaveUrl, {
        method: 'POST',
        body: xml,
        headers,
        credentials: 'same-origin'
      });
    } catch (error) {
      setStatus('Not saved: the server could not be reached', 'error');
      return { ok: false, error: error.message };
    }

    let body = null;

    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }

    if (response.ok) {
      const version = body && body.version;

      setStatus(version != null ? `Saved version ${version}` : 'Saved', 'saved');

      if (body && body.save_url) {
        currentSaveUrl = body.save_url;
      }

      if (body && body.url) {
        const target = new URL(body.url, window.location.href);

        if (target.origin === window.location.origin && target.href !== window.location.href) {
          window.history.replaceState(window.history.state, '', target.href);
        }
      }

      return { ok: true, status: response.status, body };
    }

    const errors = body && Array.isArray(body.errors) ? body.errors : null;

    if (errors && errors.length) {
      serverErrors.show(errors);
      setStatus(`Not saved: ${errors.length} problem${errors.length === 1 ? '' : 's'}`, 'error');
    } else {
      setStatus(`Not saved (HTTP ${response.status})`, 'error');
    }

    return { ok: false, status: response.status, body };
  }

  /** Save under the file name `name` (`name.bpmn`) from now on. */
  function setName(name) {
    const url = new URL(currentSaveUrl, window.location.href);

    url.searchParams.set('name', name);
    currentSaveUrl = url.pathname + url.search;
  }

  return { save, setName };
}
