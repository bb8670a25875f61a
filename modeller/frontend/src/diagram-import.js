import { layoutProcess } from 'bpmn-auto-layout';

import { deconflictPrefixes } from './namespace-prefixes';
import { decodeXml } from './xml-decode';

/**
 * Whether the XML carries diagram interchange (shapes) that bpmn-js can draw.
 *
 * @param {string} xml
 * @return {boolean}
 */
export function hasShapes(xml) {
  return /<([\w.-]+:)?BPMNShape[\s/>]/.test(xml);
}

/**
 * Import XML into a bpmn-js instance. Diagrams without any BPMNShape
 * (no bpmndi:BPMNDiagram, or an empty plane) are laid out automatically
 * first with bpmn-auto-layout. Namespace prefixes that clash with a
 * registered moddle package (e.g. `camunda` bound to another URI) are
 * renamed so the diagram can be saved again.
 *
 * @param {import('bpmn-js/lib/BaseViewer').default} bpmnjs
 * @param {string} xml
 *
 * @return {Promise<{ warnings: Array<any>, autoLayout: boolean,
 *   renamedPrefixes: Object<string, string> }>}
 */
export async function importDiagram(bpmnjs, xml) {
  let autoLayout = false;

  const packages = bpmnjs.get('moddle').getPackages();
  const deconflicted = deconflictPrefixes(xml, packages);

  xml = deconflicted.xml;

  if (!hasShapes(xml)) {
    xml = await layoutProcess(xml);
    autoLayout = true;
  }

  const { warnings } = await bpmnjs.importXML(xml);

  return { warnings, autoLayout, renamedPrefixes: deconflicted.renamed };
}

/**
 * Fetch a diagram's XML from the server (same-origin credentials).
 *
 * @param {string} url
 * @return {Promise<string>}
 */
export async function fetchXml(url) {
  const response = await fetch(url, {
    credentials: 'same-origin',
    headers: { 'Accept': 'application/xml, text/xml, */*' }
  });

  if (!response.ok) {
    throw new Error(`could not load diagram (HTTP ${response.status})`);
  }

  return decodeXml(await response.arrayBuffer());
}

/**
 * Read a local file (open dialog, drag and drop) as XML text.
 *
 * @param {File} file
 * @return {Promise<string>}
 */
export async function readXmlFile(file) {
  return decodeXml(await file.arrayBuffer());
}
