/**
 * Entry point of the read-only instance view.
 *
 *   <div id="baton-viewer" data-xml-url="..." data-state-url="..." data-heatmap-url="...">
 *     <div id="viewer-canvas"></div>
 *   </div>
 *
 * Exposes `window.batonViewer = { viewer, ready, refresh }`; `ready` resolves
 * once the diagram is shown and the instance markers (or the heatmap, see
 * heatmap.js) are applied.
 */
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { fetchXml, importDiagram } from './diagram-import';
import { createInstanceHighlight } from './instance-highlight';
import { paintHeatmap } from './heatmap';
import { observeCanvasResize } from './canvas-resize';
import { addZoomControls } from './diagram-zoom';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import './baton.css';
import { startOnPage } from './start-on-page';

async function fetchState(url) {
  const response = await fetch(url, {
    credentials: 'same-origin',
    headers: { 'Accept': 'application/json' }
  });

  if (!response.ok) {
    throw new Error(`could not load the instance state (HTTP ${response.status})`);
  }

  return response.json();
}

function showError(root, message) {
  let box = root.querySelector('.baton-viewer-error');

  if (!box) {
    box = document.createElement('p');
    box.className = 'baton-viewer-error';
    box.setAttribute('role', 'alert');
    root.prepend(box);
  }

  box.textContent = message;
}

function start(root) {
  const xmlUrl = root.dataset.xmlUrl || '';
  const stateUrl = root.dataset.stateUrl || '';
  const heatmapUrl = root.dataset.heatmapUrl || '';

  const container = document.getElementById('viewer-canvas') || root;

  const viewer = new NavigatedViewer({ container });

  observeCanvasResize(viewer, container);

  const highlight = createInstanceHighlight(viewer);

  const state = { viewer, ready: null, refresh: null, lastResult: null };

  window.batonViewer = state;

  async function refresh() {
    if (!stateUrl) {
      return { applied: 0, missing: [] };
    }

    const result = highlight.apply(await fetchState(stateUrl));

    state.lastResult = result;

    return result;
  }

  state.refresh = refresh;

  state.ready = (async () => {
    try {
      const [ xml, instanceState, heat ] = await Promise.all([
        fetchXml(xmlUrl),
        stateUrl ? fetchState(stateUrl) : null,
        heatmapUrl ? fetchState(heatmapUrl) : null
      ]);

      const imported = await importDiagram(viewer, xml);

      const canvas = viewer.get('canvas');

      canvas.resized();
      canvas.zoom('fit-viewport', 'auto');
      canvas.zoom(Math.min(1, canvas.zoom() * 0.95), 'auto');

      const result = instanceState ? highlight.apply(instanceState) : { applied: 0, missing: [] };

      if (instanceState && container !== root) {   // an instance: readable size, its current step in view
        const zoom = addZoomControls(viewer, root, container);

        zoom.fitWidth();
        zoom.showCurrent();
      }

      if (heat) {
        result.heat = paintHeatmap(viewer, heat, document.getElementById('heatmap-legend'));
      }

      state.lastResult = result;

      return { ...result, warnings: imported.warnings };
    } catch (error) {
      showError(root, `Could not show the diagram: ${error.message}`);
      throw error;
    }
  })();

  state.ready.catch(() => {});
}

startOnPage('baton-viewer', start);
