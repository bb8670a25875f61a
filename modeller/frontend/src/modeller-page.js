/**
 * Entry point of the modeller page.
 *
 * The server renders
 *
 *   <div id="baton-modeller" data-xml-url data-save-url data-csrf-token
 *        data-can-save="true|false" data-name data-new="true|false">
 *     #canvas #properties ul#lint-problems ul#server-problems
 *     button#save-button button#download-bpmn button#download-svg
 *     input#open-file[type=file] span#save-status[role=status]
 *     dialog#name-dialog (a form with the process name's input: asked on a new diagram's first save)
 *   </div>
 *
 * and this bundle does the rest. Exposes `window.batonModeller`.
 */
import BpmnModeler from 'bpmn-js/lib/Modeler';

import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

import LintModule from 'bpmn-js-bpmnlint';
import lintConfig from 'baton:bpmnlint-config';
import MinimapModule from 'diagram-js-minimap';
import TokenSimulationModule from 'bpmn-js-token-simulation';

import { blankDiagram } from './blank-diagram';
import { applyName, askName, currentName, idFromName } from './process-name';
import KeepUndrawnDiModule from './keep-undrawn-di';
import BatonWordsModule, { HINTS } from './baton-words';
import SimplePanelModule, { setupPanelMode } from './simple-panel';
import PaletteKeyboardModule from './palette-keyboard';
import FormRulesModule from './form-rules';
import LaneFitModule from './lane-fit';
import { fetchXml, importDiagram, readXmlFile } from './diagram-import';
import { setupLintList } from './lint-list';
import { createServerErrors } from './server-errors';
import { createSave } from './save';
import { setupExport } from './export';
import { exportXml } from './xml-export';
import { setupFileOpen } from './file-drop';
import { createStatus } from './status';
import { observeCanvasResize } from './canvas-resize';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import 'bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css';
import 'diagram-js-minimap/assets/diagram-js-minimap.css';
import 'bpmn-js-token-simulation/assets/css/bpmn-js-token-simulation.css';
import './baton.css';
import { startOnPage } from './start-on-page';

function start(root) {
  const byId = (id) => document.getElementById(id);

  const config = {
    xmlUrl: root.dataset.xmlUrl || '',
    saveUrl: root.dataset.saveUrl || '',
    csrfToken: root.dataset.csrfToken || '',
    canSave: root.dataset.canSave === 'true',
    name: (root.dataset.name || '').replace(/\.(bpmn|xml)$/i, ''),
    isNew: root.dataset.new === 'true',
    takenKeys: JSON.parse(root.dataset.takenKeys || '[]')
  };

  const canvasContainer = byId('canvas');
  const saveButton = byId('save-button');

  const setStatus = createStatus(byId('save-status'));

  const modeler = new BpmnModeler({
    container: canvasContainer,
    propertiesPanel: {
      parent: byId('properties'),
      description: HINTS
    },
    linting: {
      active: true,
      bpmnlint: lintConfig
    },
    minimap: {
      open: false
    },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule,
      LintModule,
      MinimapModule,
      TokenSimulationModule,
      KeepUndrawnDiModule,
      BatonWordsModule,
      SimplePanelModule,
      PaletteKeyboardModule,
      FormRulesModule,
      LaneFitModule
    ],
    moddleExtensions: {
      camunda: camundaModdle
    }
  });

  observeCanvasResize(modeler, canvasContainer);

  let name = config.name;

  const state = {
    modeler,
    config,
    ready: null,
    lastSave: null,
    lastImport: null,
    save: null,
    openXML: null,
    xml: () => exportXml(modeler)
  };

  window.batonModeller = state;

  setupLintList(modeler, byId('lint-problems'));
  setupPanelMode(modeler, byId('panel-mode'));

  const serverErrors = createServerErrors(modeler, byId('server-problems'));

  const { save, setName } = createSave({
    modeler,
    saveUrl: config.saveUrl,
    csrfToken: config.csrfToken,
    serverErrors,
    setStatus
  });

  let saving = false;
  let named = !config.isNew;

  /** A new diagram gets its name on its first save: asked for unless its process has one already. */
  async function ensureNamed() {
    if (named) {
      return true;
    }

    let processName = currentName(modeler);

    if (!processName) {
      processName = await askName(byId('name-dialog'), '');

      if (!processName) {
        setStatus('Not saved: the diagram needs a name first', 'dirty');
        return false;
      }

      applyName(modeler, processName, config.takenKeys);
    }

    name = idFromName(processName, config.takenKeys);
    setName(name);
    named = true;

    return true;
  }

  function doSave() {
    if (!config.canSave || !config.saveUrl) {
      return state.lastSave;
    }

    saving = true;

    if (saveButton) {
      saveButton.disabled = true;
    }

    const result = ensureNamed().then((ok) => ok ? save() : { ok: false, cancelled: true }).finally(() => {
      saving = false;

      if (saveButton) {
        saveButton.disabled = false;
      }
    });

    state.lastSave = result;

    return result;
  }

  state.save = doSave;

  if (saveButton) {
    if (config.canSave && config.saveUrl) {
      saveButton.addEventListener('click', doSave);
    } else {
      saveButton.disabled = true;
      saveButton.title = 'You may not save this diagram';
    }
  }

  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === 's' || event.key === 'S')) {
      event.preventDefault();

      if (!saving) {
        doSave();
      }
    }
  });

  modeler.get('eventBus').on('commandStack.changed', ({ trigger }) => {
    if (trigger !== 'clear' && !saving) {
      setStatus('Unsaved changes', 'dirty');
    }
  });

  setupExport(modeler, {
    bpmnButton: byId('download-bpmn'),
    svgButton: byId('download-svg'),
    getName: () => name,
    setStatus
  });

  async function openXML(xml) {
    const result = await importDiagram(modeler, xml);

    state.lastImport = result;
    fitViewport(modeler);

    return result;
  }

  state.openXML = openXML;

  async function openFile(file) {
    try {
      const xml = await readXmlFile(file);
      const result = await openXML(xml);

      name = file.name.replace(/\.(bpmn|xml)$/i, '') || name;
      setName(name);   // saved under the name it was opened with
      named = true;

      const notes = [
        result.autoLayout ? 'laid out automatically' : null,
        result.warnings.length ? `${result.warnings.length} import warning(s)` : null
      ].filter(Boolean);

      setStatus(`Opened ${file.name}${notes.length ? ` (${notes.join(', ')})` : ''}, not saved yet`, 'dirty');
    } catch (error) {
      setStatus(`Could not open ${file.name}: ${error.message}`, 'error');
    }
  }

  setupFileOpen({
    input: byId('open-file'),
    dropZone: canvasContainer,
    openFile
  });

  state.ready = (async () => {
    try {
      const xml = config.xmlUrl ? await fetchXml(config.xmlUrl) : blankDiagram(name);
      const result = await openXML(xml);

      if (result.autoLayout) {
        setStatus('Diagram had no layout: laid out automatically', 'dirty');
      }

      return result;
    } catch (error) {
      setStatus(`Could not load the diagram: ${error.message}`, 'error');
      throw error;
    }
  })();

  // a failed load is reported in #save-status; avoid an "unhandled rejection"
  state.ready.catch(() => {});
}

function fitViewport(bpmnjs) {
  const canvas = bpmnjs.get('canvas');

  canvas.resized();
  canvas.zoom('fit-viewport', 'auto');

  // leave a margin around the diagram, never magnify small diagrams
  canvas.zoom(Math.min(1, canvas.zoom() * 0.95), 'auto');
}

startOnPage('baton-modeller', start);
