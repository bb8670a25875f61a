/**
 * Turn the bytes of a BPMN file into a string the way an XML parser would:
 * byte order mark first, then the encoding named in the XML declaration
 * (MIWG samples use ISO-8859-1), UTF-8 otherwise.
 *
 * The declaration is rewritten to UTF-8 since the result is a JS string and
 * bpmn-js writes UTF-8.
 *
 * @param {ArrayBuffer} buffer
 * @return {string}
 */
export function decodeXml(buffer) {
  const bytes = new Uint8Array(buffer);

  let encoding = 'utf-8';

  if (bytes[0] === 0xFE && bytes[1] === 0xFF) {
    encoding = 'utf-16be';
  } else if (bytes[0] === 0xFF && bytes[1] === 0xFE) {
    encoding = 'utf-16le';
  } else if (!(bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF)) {
    const head = String.fromCharCode(...bytes.subarray(0, 200));
    const declared = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);

    if (declared) {
      encoding = declared[1].toLowerCase();
    }
  }

  let text;

  try {
    text = new TextDecoder(encoding).decode(bytes);
  } catch (error) {
    text = new TextDecoder('utf-8').decode(bytes);
  }

  return text.replace(/^\uFEFF/, '').replace(
    /^(\s*<\?xml[^>]*\bencoding\s*=\s*["'])[^"']*(["'])/,
    '$1UTF-8$2'
  );
}
