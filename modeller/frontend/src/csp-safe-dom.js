/**
 * `min-dom` with a CSP-safe `domify`.
 *
 * Baton pages are served with `style-src 'self'` (no 'unsafe-inline'), which
 * makes the browser refuse style="..." attributes in parsed markup and log a
 * console error for each. Some bundled libraries build markup with such
 * attributes (bpmn-js-properties-panel's container, bpmn-js-token-simulation's
 * coloured tokens and notifications). build.mjs points every `min-dom` import
 * at this module; `domify` moves style attributes aside before parsing and
 * applies them through the CSSOM (element.style), which CSP allows.
 */
import { domify as parseHtml } from 'min-dom';

export * from 'min-dom';

const STYLE_ATTRIBUTE = /(\s)style\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const DATA_ATTRIBUTE = 'data-baton-csp-style';

export function domify(html, doc) {
  if (typeof html !== 'string' || !html.includes('style')) {
    return parseHtml(html, doc);
  }

  const rewritten = html.replace(STYLE_ATTRIBUTE, (match, space, doubleQuoted, singleQuoted) => {
    const value = doubleQuoted !== undefined ? doubleQuoted : singleQuoted.replace(/"/g, '&quot;');

    return `${space}${DATA_ATTRIBUTE}="${value}"`;
  });

  const node = parseHtml(rewritten, doc);

  const styled = [];

  if (node.nodeType === 1 && node.hasAttribute(DATA_ATTRIBUTE)) {
    styled.push(node);
  }

  if (node.querySelectorAll) {
    styled.push(...node.querySelectorAll(`[${DATA_ATTRIBUTE}]`));
  }

  for (const element of styled) {
    element.style.cssText = element.getAttribute(DATA_ATTRIBUTE);
    element.removeAttribute(DATA_ATTRIBUTE);
  }

  return node;
}
