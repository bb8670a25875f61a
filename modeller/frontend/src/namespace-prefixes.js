/**
 * Work around a moddle-xml limitation: when a document binds a prefix that a
 * registered moddle package uses (e.g. `camunda`) to a *different* namespace
 * (C.1.0 of the MIWG suite has xmlns:camunda="http://activiti.org/bpmn"), the
 * reader de-conflicts it to `ns0` but the writer then fails with
 * "no namespace uri given for prefix <ns0>" on the foreign attributes.
 *
 * Renaming such a prefix in the XML text before import keeps the document
 * equivalent (same namespaces, same local names) and lets it round-trip.
 */

const KNOWN_PREFIXES = {
  'http://activiti.org/bpmn': 'activiti'
};

const NAME = '[A-Za-z_][\\w.-]*';

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * @param {string} xml
 * @param {Array<{ prefix: string, uri: string }>} packages registered moddle packages
 *
 * @return {{ xml: string, renamed: Object<string, string> }}
 */
export function deconflictPrefixes(xml, packages) {
  const packageUris = new Map(packages.map((pkg) => [ pkg.prefix, pkg.uri ]));

  const declared = new Map();
  const declaration = new RegExp(`\\sxmlns:(${NAME})\\s*=\\s*(["'])(.*?)\\2`, 'g');

  for (const match of xml.matchAll(declaration)) {
    const [ , prefix, , uri ] = match;

    if (!declared.has(prefix)) {
      declared.set(prefix, new Set());
    }

    declared.get(prefix).add(uri);
  }

  const renamed = {};

  for (const [ prefix, uris ] of declared) {
    const packageUri = packageUris.get(prefix);

    if (!packageUri || [ ...uris ].every((uri) => uri === packageUri) || uris.size !== 1) {
      continue;
    }

    const uri = [ ...uris ][0];
    const taken = (candidate) => declared.has(candidate) || packageUris.has(candidate);

    let newPrefix = KNOWN_PREFIXES[uri];

    for (let n = 1; !newPrefix || taken(newPrefix); n++) {
      newPrefix = `${prefix}_${n}`;
    }

    const p = escapeRegExp(prefix);

    xml = xml
      .replace(new RegExp(`(\\sxmlns:)${p}(\\s*=)`, 'g'), `$1${newPrefix}$2`)
      .replace(new RegExp(`(<\\/?)${p}:(?=${NAME})`, 'g'), `$1${newPrefix}:`)
      .replace(new RegExp(`(\\s)${p}:(${NAME}\\s*=\\s*["'])`, 'g'), `$1${newPrefix}:$2`);

    renamed[prefix] = newPrefix;
  }

  return { xml, renamed };
}
