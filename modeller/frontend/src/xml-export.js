/**
 * The diagram as BPMN XML, exactly as the modeller holds it.
 *
 * moddle-xml escapes "\n" in attribute values but writes "\r" literally, and an XML parser
 * reads a literal carriage return as a space (in attributes) or drops it (in text). Labels from
 * Windows tools ("Gateway&#xD;&#xA;(Split Flow)") would change on every save. moddle never
 * writes CDATA or comments, so every carriage return in its output is character data and is
 * written as a character reference.
 *
 * @param {import('bpmn-js/lib/Modeler').default} modeler
 * @return {Promise<string>}
 */
export async function exportXml(modeler) {
  const { xml } = await modeler.saveXML({ format: true });

  return xml.replace(/\r/g, '&#13;');
}
