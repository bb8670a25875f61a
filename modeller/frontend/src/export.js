import { exportXml } from './xml-export';

/**
 * Download the diagram as .bpmn (XML) or .svg through a blob link.
 */

export function fileBaseName(name) {
  const base = String(name || '').trim()
    .replace(/\.(bpmn|xml)$/i, '')
    .replace(/[^\w.-]+/g, '-')
    .replace(/^-+|-+$/g, '');

  return base || 'diagram';
}

export function downloadBlob(content, type, filename) {
  const url = URL.createObjectURL(new Blob([ content ], { type }));
  const link = document.createElement('a');

  link.href = url;
  link.download = filename;
  link.hidden = true;

  document.body.appendChild(link);
  link.click();
  link.remove();

  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * @param {import('bpmn-js/lib/Modeler').default} modeler
 * @param {{ bpmnButton?: HTMLElement|null, svgButton?: HTMLElement|null,
 *   getName: () => string, setStatus: Function }} options
 */
export function setupExport(modeler, { bpmnButton, svgButton, getName, setStatus }) {
  async function exportBpmn() {
    try {
      downloadBlob(await exportXml(modeler), 'application/xml', `${fileBaseName(getName())}.bpmn`);
    } catch (error) {
      setStatus(`Could not export BPMN: ${error.message}`, 'error');
    }
  }

  async function exportSvg() {
    try {
      const { svg } = await modeler.saveSVG();
      downloadBlob(svg, 'image/svg+xml', `${fileBaseName(getName())}.svg`);
    } catch (error) {
      setStatus(`Could not export SVG: ${error.message}`, 'error');
    }
  }

  bpmnButton && bpmnButton.addEventListener('click', exportBpmn);
  svgButton && svgButton.addEventListener('click', exportSvg);

  return { exportBpmn, exportSvg };
}
