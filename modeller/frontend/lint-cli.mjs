#!/usr/bin/env node
// Lint .bpmn files with the rules the modeller's lint panel shows (.bpmnlintrc, read by both).
//
//   node modeller/frontend/lint-cli.mjs diagrams/*.bpmn
//
// Prints one JSON object: {"<file>": [{"id", "message", "category"}, ...]} ("error" or "warn";
// a file that cannot be read or parsed gets one "error" entry). Exits 1 when any file has an error.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import { BpmnModdle } from 'bpmn-moddle';

const require = createRequire(import.meta.url);
const { Linter } = require('bpmnlint');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');

const linter = new Linter({
  config: JSON.parse(await readFile(new URL('./.bpmnlintrc', import.meta.url), 'utf-8')),
  resolver: new NodeResolver({ require })
});

async function lintFile(file) {
  let xml;
  try {
    xml = await readFile(file, 'utf-8');
  } catch (error) {
    return [ { id: null, message: `cannot read the file: ${error.message}`, category: 'error' } ];
  }
  let parsed;
  try {
    parsed = await new BpmnModdle({ camunda }).fromXML(xml);
  } catch (error) {
    return [ { id: null, message: `parse error: ${error.message}`, category: 'error' } ];
  }
  const reports = (parsed.warnings || []).map(warning => ({
    id: warning.element && warning.element.id || null,
    message: `import warning: ${warning.message.split('\n')[0]}`,
    category: 'error'
  }));
  const results = await linter.lint(parsed.rootElement);
  for (const [ rule, found ] of Object.entries(results)) {
    for (const report of found) {
      reports.push({ id: report.id || null, message: `${report.message} (${rule})`, category: report.category });
    }
  }
  return reports;
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node lint-cli.mjs FILE.bpmn...');
  process.exit(2);
}
const output = {};
for (const file of files) {
  output[file] = await lintFile(file);
}
console.log(JSON.stringify(output, null, 2));
process.exit(Object.values(output).some(reports => reports.some(r => r.category === 'error')) ? 1 : 0);
